import type { Detector, DetectorContext, DetectorOutput, KeyGroup } from '../../detectors/types.ts';
import { DETECTORS } from '../../detectors/index.ts';
import { epochParts } from '../baselines/epochParts.ts';
import { createKeyFeedState } from '../baselines/KeyFeedState.ts';
import { type FeedGroup, ModelReferences } from '../baselines/ModelReferences.ts';
import type { Compute } from '../compute/Compute.ts';
import type { Config } from '../config/configSchema.ts';
import type { Decision, InferenceEvent, RiskScore } from '../contract.ts';
import { createFusion, type Fusion } from '../fusion/createFusion.ts';
import type { Logger } from '../observability/logger.ts';
import { silentLogger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { initialLadderState, ResponseLadder } from '../policy/ResponseLadder.ts';
import { type KeyState, KeyStateStore } from '../state/KeyStateStore.ts';

/** What one batch produced. */
export interface PipelineOutput {
  /** RiskScores at the events where a key's level changed (replay prints these). */
  changes: RiskScore[];
  /** Periodic RiskScores (every `publish.riskEveryEvents` events of a key). */
  updates: RiskScore[];
  /** Decisions to publish: level changes and refreshes before expiry. */
  decisions: Decision[];
  /** Keys whose state this batch changed (to snapshot before committing). */
  touched: string[];
}

export interface PipelineDeps {
  compute: Compute;
  metrics?: Metrics;
  logger?: Logger;
  /** Detectors to run instead of the configured registry (tests). */
  detectors?: Detector[];
}

/** Evidence from detectors whose weighted score is at least this share of the risk is quoted. */
const EVIDENCE_SHARE = 0.1;

/**
 * The detector → fusion → policy core, shared by `run`, `replay` and the
 * demo. It holds per-key state, runs each detector once per batch over all
 * keys (so vector work is batched), fuses per event, and steps the ladder.
 * Everything runs in event time.
 */
export class DetectionPipeline {
  readonly store: KeyStateStore;
  readonly detectors: Detector[];
  private readonly fusion: Fusion;
  /** Per detector, what multiplies its score in the risk (`Fusion.weights`); evidence ranks by weight × score. */
  private readonly weights: Float64Array;
  /** Per detector: scored and published but kept out of the enforced risk (`detectors.<name>.shadow`). */
  private readonly shadowed: boolean[];
  private readonly anyShadow: boolean;
  private readonly ladder: ResponseLadder;
  private readonly logger: Logger;
  private readonly metrics?: Metrics;
  private readonly compute: Compute;
  private maxTs = 0;
  private lastSweep = 0;
  /** The per-model references every detector reads, fed once per batch after the detectors ran. */
  private readonly references: ModelReferences;
  /** Whether any detector may read them (rate detectors do not): else they are not kept at all. */
  private readonly referencing: boolean;

  constructor(private readonly config: Readonly<Config>, deps: PipelineDeps) {
    this.compute = deps.compute;
    this.metrics = deps.metrics;
    this.logger = deps.logger ?? silentLogger();
    const detectorConfig = config.detectors as Record<string, { enabled: boolean; weight: number; shadow?: boolean }>;
    this.detectors =
      deps.detectors ?? DETECTORS.filter((d) => detectorConfig[d.name]?.enabled !== false).map((d) => d.create(detectorConfig[d.name]));
    this.fusion = createFusion({ fusion: config.fusion, detectors: detectorConfig }, this.detectors);
    this.weights = this.fusion.weights;
    this.shadowed = this.detectors.map((d) => detectorConfig[d.name]?.shadow === true);
    this.anyShadow = this.shadowed.some(Boolean);
    this.ladder = new ResponseLadder(config.policy);
    this.store = new KeyStateStore(config.state, (_key, reason) => this.metrics?.keysEvicted.inc({ reason }));
    this.references = new ModelReferences(
      config.reference,
      (model) => this.store.aggregate(`model:${model}`, this.maxTs),
      (model, problem) => this.logger.warn({ model, problem }, 'model reference in the snapshot cannot be read; starting a fresh one'),
    );
    this.referencing = this.detectors.some((d) => d.kind !== 'rate');
  }

  processBatch(events: readonly InferenceEvent[]): PipelineOutput {
    // The model references fold between epochs: a batch spanning a boundary runs as one batch per epoch.
    const parts = this.referencing ? epochParts(events, this.config.reference.epochMs) : [events];
    if (parts.length > 1) return joinOutputs(parts.map((part) => this.processBatch(part)));
    const out: PipelineOutput = { changes: [], updates: [], decisions: [], touched: [] };
    const groups = this.group(events);
    if (groups.size === 0) return out;
    const keys = [...groups.keys()];
    const states = keys.map((k) => this.store.get(k));
    // Each key's events as rate detectors see them (all) and as behavioural ones do (answered only), built once per batch.
    const allEvents = keys.map((key) => allView(groups.get(key)!));
    const answered = allEvents.map((v) => answeredView(v.events));
    if (this.referencing) this.references.begin(events);
    const perDetector = this.detectors.map((d) => this.runDetector(d, keys, states, d.kind === 'rate' ? allEvents : answered));
    if (this.referencing) this.feedReferences(keys, states, answered, perDetector);

    const enforced = new Float64Array(this.detectors.length);
    for (let k = 0; k < keys.length; k++) {
      const state = states[k];
      const evs = groups.get(keys[k])!;
      const scores = new Float64Array(this.detectors.length);
      for (let i = 0; i < evs.length; i++) {
        const ev = evs[i];
        for (let d = 0; d < this.detectors.length; d++) scores[d] = perDetector[d]?.[k]?.scores[i] ?? 0;
        state.eventsSeen++;
        state.lastTs = Math.max(state.lastTs, ev.ts);
        if (ev.tenant !== null) state.tenant = ev.tenant;
        const tenant = state.tenant ?? null;
        let shadowChanged = false;
        if (this.anyShadow) {
          // Shadowed detectors are scored and published, but the enforced risk is fused without them.
          for (let d = 0; d < scores.length; d++) enforced[d] = this.shadowed[d] ? 0 : scores[d];
          state.risk = this.fuse(enforced);
          state.shadowRisk = this.fuse(scores);
          state.shadowLadder ??= initialLadderState();
          shadowChanged = this.ladder.step(state.key, state.shadowLadder, state.shadowRisk, ev.ts, tenant).changed;
        } else {
          state.risk = this.fuse(scores);
        }
        const step = this.ladder.step(state.key, state.ladder, state.risk, ev.ts, tenant);
        const last = i === evs.length - 1;
        const changed = step.changed || shadowChanged;
        if (changed || last) this.recordScores(state, scores, perDetector, k, i);
        if (changed) {
          out.changes.push(this.riskScore(state, ev.ts));
          if (step.changed) this.metrics?.levelChanges.inc({ level: step.level });
        } else if (this.config.publish.riskEveryEvents > 0 && state.eventsSeen % this.config.publish.riskEveryEvents === 0) {
          if (!last) this.recordScores(state, scores, perDetector, k, i);
          out.updates.push(this.riskScore(state, ev.ts));
        }
        if (step.decide || shadowChanged) {
          const decision = this.decision(state, step.allowlisted);
          out.decisions.push(decision);
          this.metrics?.decisions.inc({ level: decision.level, shadow: String(decision.shadow) });
          if (shadowChanged) this.metrics?.decisions.inc({ level: decision.shadow_level!, shadow: 'detector' });
        }
      }
      out.touched.push(state.key);
    }
    this.metrics?.eventsProcessed.inc(events.length);
    this.metrics?.keysTracked.set(this.store.size);
    this.maybeSweep();
    return out;
  }

  /**
   * Behavioural detectors are fused by the configured method (`fusion.method`:
   * weighted noisy-OR, or logistic σ(bias + Σ wᵢsᵢ)); rate detectors (volume)
   * only lift the risk to their own weighted score, so volume alone justifies
   * throttling but never compounds into truncation (see createFusion).
   */
  private fuse(scores: Float64Array): number {
    return this.fusion.risk(scores);
  }

  /** One RiskScore per key with `final: true`, for the end of a replay. */
  finalScores(): RiskScore[] {
    return [...this.store.entries()]
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((s) => ({ ...this.riskScore(s, s.lastTs), final: true }));
  }

  private group(events: readonly InferenceEvent[]): Map<string, InferenceEvent[]> {
    const groups = new Map<string, InferenceEvent[]>();
    for (const e of events) {
      const state = this.store.get(e.api_key);
      if (!this.store.remember(state, e.event_id)) {
        this.metrics?.duplicates.inc({ reason: 'event_id' });
        continue;
      }
      if (e.ts > this.maxTs) this.maxTs = e.ts;
      let g = groups.get(e.api_key);
      if (!g) groups.set(e.api_key, (g = []));
      g.push(e);
    }
    // Event time within a key: a gateway's clock only moves forward, but partitions interleave.
    for (const g of groups.values()) if (!isSorted(g)) g.sort((a, b) => a.ts - b.ts);
    return groups;
  }

  /**
   * Runs one detector over the batch, on each key's events as its kind sees
   * them (`views`). A behavioural detector sees only the calls that were answered (status < 400): a call refused by the gateway
   * (429 throttled, 403 blocked) or failed taught the client nothing, and a
   * throttled client resending the same input must not read as a key that
   * repeats itself or paces itself differently. Such a call keeps the
   * detector's score of the key's last answered call. Rate detectors see
   * every attempt.
   */
  private runDetector(d: Detector, keys: string[], states: KeyState[], views: readonly DetectorView[]): (DetectorOutput | undefined)[] | undefined {
    const batch: KeyGroup<unknown>[] = [];
    const slot: number[] = [];
    keys.forEach((key, k) => {
      if (views[k].events.length === 0) return;
      const s = states[k];
      if (!(d.name in s.detectors)) s.detectors[d.name] = d.initState();
      slot[k] = batch.length;
      batch.push({ key, events: views[k].events, state: s.detectors[d.name] });
    });
    // An entity is looked up in the store once per batch (its last-seen time is the batch's maxTs either way).
    const seen = new Map<string, unknown>();
    const ctx: DetectorContext = {
      compute: this.compute,
      reference: (model) => this.references.get(model),
      aggregate: <T>(entity: string, init: () => T): T => {
        let value = seen.get(entity);
        if (value === undefined) {
          const a = this.store.aggregate(entity, this.maxTs);
          if (!(d.name in a)) a[d.name] = init();
          value = a[d.name];
          seen.set(entity, value);
        }
        return value as T;
      },
    };
    try {
      const result = batch.length ? d.processBatch(batch, ctx) : [];
      keys.forEach((_, k) => {
        if (slot[k] !== undefined) states[k].detectors[d.name] = batch[slot[k]].state;
      });
      return keys.map((_, k) => spread(slot[k] === undefined ? undefined : result[slot[k]], views[k], states[k].scores[d.name] ?? 0, states[k].evidence[d.name] ?? []));
    } catch (err) {
      this.metrics?.detectorErrors.inc({ detector: d.name });
      this.logger.error({ err, detector: d.name, keys: keys.length }, 'detector failed; its scores count as 0 for this batch');
      return undefined;
    }
  }

  /**
   * Offers the batch's answered queries to the model references' gate: a key that a behavioural
   * detector scores at `reference.gate.excludeAboveScore` or more as of the query, or that one says
   * leans its way (`keepOut`), does not feed.
   */
  private feedReferences(keys: string[], states: KeyState[], answered: readonly DetectorView[], perDetector: ReturnType<DetectionPipeline['runDetector']>[]): void {
    const cut = this.config.reference.gate.excludeAboveScore;
    const behavioural = this.detectors.flatMap((d, i) => (d.kind === 'rate' ? [] : [i]));
    const groups: FeedGroup[] = keys.map((key, k) => {
      const view = answered[k];
      // Scores are per event of the key's batch: where each answered one lies (its `map` steps up there).
      const map = view.map;
      const pos = map ? new Int32Array(view.events.length) : null;
      if (map && pos) for (let p = 0; p < map.length; p++) if (map[p] >= 0 && (p === 0 || map[p] !== map[p - 1])) pos[map[p]] = p;
      return {
        key,
        events: view.events,
        feed: (states[k].reference ??= createKeyFeedState()),
        flagged: (i: number) =>
          behavioural.some((d) => {
            const o = perDetector[d]?.[k];
            if (!o) return false;
            const j = pos ? pos[i] : i;
            return o.scores[j] >= cut || (o.keepOut !== undefined && o.keepOut[j] !== 0);
          }),
      };
    });
    this.references.offerBatch(groups);
    this.references.end();
  }

  private recordScores(state: KeyState, scores: Float64Array, perDetector: ReturnType<DetectionPipeline['runDetector']>[], k: number, i: number): void {
    for (let d = 0; d < this.detectors.length; d++) {
      const name = this.detectors[d].name;
      const output = perDetector[d]?.[k];
      state.scores[name] = round(scores[d]);
      state.evidence[name] = output?.explain ? output.explain(i) : (output?.evidence ?? []);
    }
  }

  private riskScore(state: KeyState, ts: number): RiskScore {
    const weighted = this.detectors.map((d, i) => ({
      name: d.name,
      shadow: this.shadowed[i],
      // Under logistic fusion a behavioural wᵢ·sᵢ is log-odds; a rate detector's is a risk, as under noisy-OR.
      logOdds: this.fusion.method === 'logistic' && d.kind !== 'rate',
      weighted: (state.scores[d.name] ?? 0) * this.weights[i],
    }));
    const logOddsSum = weighted.reduce((sum, x) => (x.logOdds ? sum + Math.max(0, x.weighted) : sum), 0);
    // A detector is quoted when its contribution is at least a tenth of the risk (or of the positive log-odds).
    const scale = (x: (typeof weighted)[number]) => (x.logOdds ? logOddsSum : x.shadow ? (state.shadowRisk ?? 0) : state.risk);
    const drivers = weighted.filter((x) => x.weighted > 0 && x.weighted >= EVIDENCE_SHARE * scale(x)).sort((a, b) => b.weighted - a.weighted);
    const score: RiskScore = {
      api_key: state.key,
      ts,
      events_seen: state.eventsSeen,
      risk: round(state.risk),
      level: state.ladder.level,
      detectors: { ...state.scores },
      evidence: drivers.flatMap((x) => (state.evidence[x.name] ?? []).map((e) => `${x.shadow ? '(shadow) ' : ''}${x.name}: ${e}`)),
    };
    if (state.shadowLadder) {
      score.shadow_risk = round(state.shadowRisk ?? 0);
      score.shadow_level = state.shadowLadder.level;
    }
    return score;
  }

  private decision(state: KeyState, allowlisted?: string): Decision {
    const top = this.riskScore(state, state.lastTs).evidence.slice(0, 3);
    const why = allowlisted !== undefined ? `allowlisted${allowlisted ? ` (${allowlisted})` : ''}; risk ${round(state.risk)}` : `risk ${round(state.risk)}`;
    const decision: Decision = {
      api_key: state.key,
      level: state.ladder.level,
      reason: top.length && allowlisted === undefined ? `${why}: ${top.join('; ')}` : why,
      expires_at: state.ladder.expiresAt,
      shadow: this.ladder.shadow(state.tenant ?? null),
    };
    if (state.shadowLadder) {
      // What the shadowed detectors would make of the key; gateways ignore it. It lives as long as either decision.
      decision.shadow_level = state.shadowLadder.level;
      decision.expires_at = Math.max(decision.expires_at, state.shadowLadder.expiresAt);
    }
    return decision;
  }

  private maybeSweep(): void {
    // Idle eviction runs at most once per event-time hour.
    if (this.maxTs - this.lastSweep < 3_600_000) return;
    this.lastSweep = this.maxTs;
    this.store.sweepIdle(this.maxTs);
  }
}

function isSorted(g: InferenceEvent[]): boolean {
  for (let i = 1; i < g.length; i++) if (g[i].ts < g[i - 1].ts) return false;
  return true;
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

/** A key's batch as one detector sees it: the events it is given, and where each of the key's events maps. */
interface DetectorView {
  events: readonly InferenceEvent[];
  /** Per event of the key's batch: index of the last given event at or before it (-1: none yet); null when all are given. */
  map: Int32Array | null;
}

function allView(events: readonly InferenceEvent[]): DetectorView {
  return { events, map: null };
}

function answeredView(events: readonly InferenceEvent[]): DetectorView {
  if (events.every((e) => e.status < 400)) return allView(events);
  const given: InferenceEvent[] = [];
  const map = new Int32Array(events.length);
  events.forEach((e, i) => {
    if (e.status < 400) given.push(e);
    map[i] = given.length - 1;
  });
  return { events: given, map };
}

/** The detector's output over the key's whole batch: a refused call carries the score of the last answered one (or `previous`). */
function spread(output: DetectorOutput | undefined, view: DetectorView, previous: number, previousEvidence: string[]): DetectorOutput | undefined {
  const map = view.map;
  if (map === null) return output;
  const scores = new Float64Array(map.length);
  for (let i = 0; i < map.length; i++) scores[i] = map[i] < 0 || !output ? previous : output.scores[map[i]];
  const explain = (i: number): string[] => (map[i] < 0 || !output ? previousEvidence : output.explain ? output.explain(map[i]) : output.evidence);
  const spreadOut: DetectorOutput = { scores, evidence: explain(map.length - 1), explain };
  if (output?.keepOut) {
    const keep = output.keepOut;
    spreadOut.keepOut = Uint8Array.from({ length: map.length }, (_, i) => (map[i] >= 0 && keep[map[i]] ? 1 : 0));
  }
  return spreadOut;
}

/** The outputs of consecutive parts of one batch as one. */
function joinOutputs(parts: PipelineOutput[]): PipelineOutput {
  return {
    changes: parts.flatMap((p) => p.changes),
    updates: parts.flatMap((p) => p.updates),
    decisions: parts.flatMap((p) => p.decisions),
    touched: [...new Set(parts.flatMap((p) => p.touched))],
  };
}
