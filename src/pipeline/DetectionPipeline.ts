import { createHash } from 'node:crypto';
import type { Detector, DetectorOutput, KeyGroup } from '../../detectors/types.ts';
import { DETECTORS } from '../../detectors/index.ts';
import { epochParts } from '../baselines/epochParts.ts';
import { createKeyFeedState } from '../baselines/KeyFeedState.ts';
import { type FeedGroup, ModelReferences } from '../baselines/ModelReferences.ts';
import type { ModelReference } from '../baselines/ModelReference.ts';
import type { ModelReferenceState } from '../baselines/ModelReferenceState.ts';
import type { Compute } from '../compute/Compute.ts';
import type { Config } from '../config/configSchema.ts';
import { type Decision, type InferenceEvent, type Level, LEVELS, levelRank, type RiskScore } from '../contract.ts';
import { type Discount, PEER_TABLE_SLOT, PeerCalibration } from '../calibration/PeerCalibration.ts';
import { forgetEventOrder } from '../../detectors/shared/batch.ts';
import { entityName } from '../../detectors/shared/entityName.ts';
import type { EntityStageLink } from '../../detectors/shared/aggregateFacts.ts';
import { createFusion, type Fusion, type FusionAssessment } from '../fusion/createFusion.ts';
import { KeySuccession } from '../fusion/KeySuccession.ts';
import type { Logger } from '../observability/logger.ts';
import { silentLogger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { GroupDecisions } from '../policy/GroupDecisions.ts';
import type { ManualDecisionBook } from '../policy/ManualDecisionBook.ts';
import { initialLadderState, ResponseLadder } from '../policy/ResponseLadder.ts';
import { flatStrings } from '../state/flatStrings.ts';
import { type KeyState, KeyStateStore, NO_EVIDENCE } from '../state/KeyStateStore.ts';
import { BatchContext } from './BatchContext.ts';
import { chunkByKeys } from './chunkByKeys.ts';

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
  /** Keys whose enforced level went up, with the level they left, their RiskScore and the decision issued (alerts). */
  escalations: Escalation[];
}

/** One key stepping up the ladder at one event. */
export interface Escalation {
  from: Level;
  score: RiskScore;
  decision: Decision;
  tenant: string | null;
}

export interface PipelineDeps {
  compute: Compute;
  metrics?: Metrics;
  logger?: Logger;
  /** Detectors to run instead of the configured registry (tests). */
  detectors?: Detector[];
  /** Analysts' decisions in force; a manual allow holds a key at allow like an allowlist entry. */
  manual?: ManualDecisionBook;
  /** Runs some detectors elsewhere (worker threads, `replay --workers`): handed each batch part before the detectors run. */
  offload?: DetectorOffload;
  /** The aggregate stage, when it runs apart (`aggregateStage.enabled`): the cross-key detector pools there. */
  entityStage?: EntityStageLink;
}

/** One batch part as it stands before the detectors run. */
export interface OffloadPart {
  keys: readonly string[];
  states: readonly KeyState[];
  /** Each key's answered events (what behavioural detectors see). */
  answered: readonly (readonly InferenceEvent[])[];
  /** An aggregate entity as a detector's context looks it up (created when missing). */
  aggregate(entity: string): Record<string, unknown>;
  /** The state behind the model reference detectors read in this part (null before the model's first query). */
  reference(model: string): ModelReferenceState | null;
}

/** Starts detectors' work elsewhere for a batch part; their stand-ins in `detectors` collect it. */
export interface DetectorOffload {
  begin(part: OffloadPart): void;
  runsElsewhere(detector: Detector): boolean;
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
  // Rebuilt by `reconfigure` (hot reload); the store and its per-key state stay.
  detectors!: Detector[];
  private fusion!: Fusion;
  /** Per detector, what multiplies its score in the risk (`Fusion.weights`); evidence ranks by weight × score. */
  private weights!: Float64Array;
  /** Per detector: scored and published but kept out of the enforced risk (`detectors.<name>.shadow`). */
  private shadowed!: boolean[];
  private anyShadow!: boolean;
  private ladder!: ResponseLadder;
  private groupDecisions?: GroupDecisions;
  /** Fresh keys that take over a flagged key's campaign (null: `succession.enabled` is off). */
  private succession: KeySuccession | null = null;
  /** `succession.linksMade` already counted in the metric. */
  private linksCounted = 0;
  /** Per detector, a digest of its own settings: state built under other settings is started afresh. */
  private settingsDigests!: string[];
  /** Per detector, digests of settings replaced by a reload here: state tagged with one (or untagged) is started afresh. */
  private readonly superseded = new Map<string, Set<string>>();
  private readonly fixedDetectors?: Detector[];
  private readonly manual?: ManualDecisionBook;
  private readonly offload?: DetectorOffload;
  private readonly entityStage?: EntityStageLink;
  private readonly logger: Logger;
  private readonly metrics?: Metrics;
  private readonly compute: Compute;
  private calibration!: PeerCalibration;
  private maxTs = 0;
  private lastSweep = 0;
  /** Children of the score histogram by detector name: looked up once, observed per event. */
  private readonly scoreMetric = new Map<string, { observe(value: number): void }>();
  /** The per-model references every detector reads, fed once per batch after the detectors ran. */
  private readonly references: ModelReferences;
  /** Whether any detector may read them (rate detectors do not): else they are not kept at all. */
  private readonly referencing: boolean;

  constructor(private config: Readonly<Config>, deps: PipelineDeps) {
    this.compute = deps.compute;
    this.metrics = deps.metrics;
    this.logger = deps.logger ?? silentLogger();
    this.fixedDetectors = deps.detectors;
    this.manual = deps.manual;
    this.offload = deps.offload;
    this.entityStage = deps.entityStage;
    this.build(config);
    this.store = new KeyStateStore(
      config.state,
      (key, reason) => {
        this.metrics?.keysEvicted.inc({ reason });
        if (reason === 'unsaved') this.logger.warn({ key, reason }, 'evicted a key whose latest state is not in its snapshot');
      },
      (kind, reason) => this.metrics?.aggregateEntitiesEvicted.inc({ kind, reason }),
      (name) => this.detectors.find((d) => d.name === name)?.initState(),
    );
    this.references = new ModelReferences(
      config.reference,
      (model) => this.store.aggregate(`model:${model}`, this.maxTs),
      (model, problem) => this.logger.warn({ model, problem }, 'model reference in the snapshot cannot be read; starting a fresh one'),
    );
    this.referencing = this.detectors.some((d) => d.kind !== 'rate');
  }

  /** Builds everything first and assigns last, so a config that fails to build leaves the pipeline as it was. */
  private build(config: Readonly<Config>): void {
    const detectorConfig = config.detectors as Record<string, { enabled: boolean; weight: number; shadow?: boolean }>;
    const detectors =
      this.fixedDetectors ?? DETECTORS.filter((d) => detectorConfig[d.name]?.enabled !== false).map((d) => d.create(detectorConfig[d.name]));
    const fusion = createFusion({ fusion: config.fusion, detectors: detectorConfig, policy: config.policy }, detectors);
    const ladder = new ResponseLadder(config.policy, this.manual);
    const groupDecisions = config.policy.groupDecisions.enabled ? new GroupDecisions(ladder, config.policy.groupDecisions) : undefined;
    // A reload starts the peer table afresh: scores under other settings are not peers of today's.
    if (this.store) for (const aggregate of this.store.aggregates.values()) delete aggregate[PEER_TABLE_SLOT];
    this.calibration = new PeerCalibration(
      config.calibration,
      detectors.map((d) => d.kind !== 'rate' && d.family !== 'cross-key'),
      (model, ts) => this.store.aggregate(entityName('model:', model), ts),
      (model) => this.logger.warn({ model }, 'peer calibration table in the snapshot cannot be read; starting a fresh one'),
    );
    this.detectors = detectors;
    this.fusion = fusion;
    this.weights = fusion.weights;
    this.shadowed = detectors.map((d) => detectorConfig[d.name]?.shadow === true);
    this.anyShadow = this.shadowed.some(Boolean);
    this.ladder = ladder;
    this.exportPersistenceSteps(config.policy.persistence);
    // A reload starts group ladders afresh (their decisions already published stay until they lapse).
    this.groupDecisions = groupDecisions;
    // A reload keeps the keys remembered unless the succession settings changed.
    if (!config.succession.enabled) this.succession = null;
    else if (!this.succession || JSON.stringify(this.config?.succession) !== JSON.stringify(config.succession)) {
      this.succession = new KeySuccession(config.succession, config.policy.thresholds.throttle);
      this.linksCounted = 0;
    }
    this.settingsDigests = detectors.map((d) => detectorSettingsDigest(detectorConfig[d.name]));
    this.config = config;
  }

  /**
   * Hot reload, between batches: detectors, fusion and ladder are rebuilt
   * from `config`; every key keeps its events seen, ladder position and
   * state. A detector whose own settings changed starts its per-key and
   * aggregate state afresh (state built under other windows or thresholds
   * may not fit); one whose settings are the same, or whose only change is
   * its fusion weight or shadow flag, keeps it. Returns the detectors reset.
   * `state` settings (store bounds) are not changed here.
   */
  reconfigure(config: Readonly<Config>): string[] {
    const before = new Map(this.detectors.map((d, i) => [d.name, this.settingsDigests[i]]));
    this.build(config);
    const reset = this.detectors.filter((d, i) => before.has(d.name) && before.get(d.name) !== this.settingsDigests[i]).map((d) => d.name);
    this.detectors.forEach((d, i) => {
      const stale = this.superseded.get(d.name) ?? new Set<string>();
      if (reset.includes(d.name)) stale.add(before.get(d.name)!);
      // Back to earlier settings: state built under them fits again.
      stale.delete(this.settingsDigests[i]);
      if (stale.size) this.superseded.set(d.name, stale);
      else this.superseded.delete(d.name);
    });
    for (const aggregate of this.store.aggregates.values()) for (const name of reset) delete aggregate[name];
    // A detector switched off no longer scores: its last score must not stay in the keys' published scores.
    const removed = [...before.keys()].filter((name) => !this.detectors.some((d) => d.name === name));
    if (removed.length) {
      this.store.update((state) => {
        for (const name of removed) {
          delete state.scores[name];
          delete state.evidence[name];
        }
      });
    }
    // Per-key state is checked when the key is next processed (runDetector), so keys restored from snapshots are covered too.
    return reset;
  }

  /**
   * Runs a batch. One with more keys than `state.maxKeys` runs in parts of
   * at most that many keys, each key held (pinned) in memory throughout its
   * part, so that no key of the batch in hand is evicted and reset.
   */
  processBatch(events: readonly InferenceEvent[]): PipelineOutput {
    // The model references fold between epochs: a batch spanning a boundary runs as one batch per epoch.
    const epochs = this.referencing ? epochParts(events, this.config.reference.epochMs) : [events];
    if (epochs.length > 1) return joinOutputs(epochs.map((part) => this.processBatch(part)));
    const parts = chunkByKeys(events, (e) => e.api_key, this.store.capacity);
    if (parts.length <= 1) return this.processPart(events);
    return joinOutputs(parts.map((part) => this.processPart(part)));
  }

  private processPart(events: readonly InferenceEvent[]): PipelineOutput {
    const keysInUse = new Set(events.map((e) => e.api_key));
    this.store.pin(keysInUse);
    try {
      return this.processPinned(events);
    } finally {
      this.store.unpin(keysInUse);
    }
  }

  private processPinned(events: readonly InferenceEvent[]): PipelineOutput {
    const out: PipelineOutput = { changes: [], updates: [], decisions: [], touched: [], escalations: [] };
    const groups = this.group(events);
    if (groups.size === 0) return out;
    // Keys in the order of their first event here (a poll need not be in event time across keys): a key that went
    // quiet before another's first call is processed first, which key succession needs to be batch-independent.
    // Each key's events are in event time already (`group`), so its first is its earliest.
    const keys = [...groups.keys()].sort((a, b) => groups.get(a)![0].ts - groups.get(b)![0].ts);
    const states = keys.map((k) => this.store.get(k));
    // Each key's events as rate detectors see them (all) and as behavioural ones do (answered only), built once per batch.
    const allEvents = keys.map((key) => allView(groups.get(key)!));
    const answered = allEvents.map((v) => answeredView(v.events));
    const scoreObservers = this.metrics && this.detectors.map((d) => this.scoreMetricFor(d.name));
    if (this.referencing) this.references.begin(events);
    // Key succession reads each model's reference as the detectors of this batch do, before the batch feeds it.
    this.batchReferences.clear();
    if (this.referencing && this.succession) for (const e of events) if (!this.batchReferences.has(e.model_id)) this.batchReferences.set(e.model_id, this.references.get(e.model_id));
    this.offload?.begin({
      keys,
      states,
      answered: answered.map((v) => v.events),
      aggregate: (entity) => this.store.aggregate(entity, this.maxTs),
      reference: (model) => this.references.stateOf(model),
    });
    const perDetector: ReturnType<DetectionPipeline['runDetector']>[] = new Array(this.detectors.length);
    // Each detector's work is its own (its state, its aggregates; the references are read-only here), so the order
    // they run in changes nothing: those run elsewhere are collected last, while the ones here run meanwhile.
    for (const remote of this.offload ? [false, true] : [undefined]) {
      this.detectors.forEach((d, i) => {
        if (remote === undefined || this.offload!.runsElsewhere(d) === remote) perDetector[i] = this.runDetector(d, keys, states, d.kind === 'rate' ? allEvents : answered);
      });
    }
    forgetEventOrder();
    if (this.referencing) this.feedReferences(keys, states, answered, perDetector);
    const calibrated = this.calibrate(keys, groups, states, perDetector);
    if (this.groupDecisions) this.decideGroups(out);

    const D = this.detectors.length;
    const run: KeyRun = {
      groups,
      perDetector,
      calibrated,
      scoreObservers: scoreObservers || undefined,
      out,
      enforced: new Float64Array(D),
      enforcedSignature: new Float64Array(D),
      signature: new Float64Array(D),
      // Per detector: whether its whole score is a signature, and this key's signature column when it gives one.
      wholeSignature: this.detectors.map((d) => Boolean(d.signature)),
      signatures: new Array(D),
      // A key's events in this batch, as key succession asks for them (one function per batch, not one per event).
      batchEvents: (key: string) => groups.get(key),
    };
    // One call per key: its loop over the key's events is optimised after the first keys of the first batch, and a
    // deoptimisation there sends one key back to unoptimised code, not the rest of the batch.
    for (let k = 0; k < keys.length; k++) this.processKey(run, k, states[k], groups.get(keys[k])!);
    this.metrics?.eventsProcessed.inc(events.length);
    this.metrics?.keysTracked.set(this.store.size);
    this.metrics?.calibrationPeers.set(this.calibration.size);
    this.maybeSweep();
    if (this.succession) {
      this.succession.prune(this.maxTs);
      this.metrics?.keySuccessions.inc(this.succession.linksMade - this.linksCounted);
      this.linksCounted = this.succession.linksMade;
      this.metrics?.successionKeysRemembered.set(this.succession.size);
    }
    // After the sweep, so that a key about to be evicted is not packed first; the keys of this part are pinned.
    this.store.packIdle(this.maxTs);
    this.metrics?.keysPacked.set(this.store.packedCount);
    if (this.metrics) for (const [kind, n] of this.store.entityCounts()) this.metrics.aggregateEntities.set({ kind }, n);
    return out;
  }

  /** Fuses, steps the ladder and publishes for each of one key's events of the batch (`processPinned`'s per-key step). */
  private processKey(run: KeyRun, k: number, state: KeyState, evs: readonly InferenceEvent[]): void {
    const { perDetector, calibrated, scoreObservers, out, enforced, enforcedSignature, signature, wholeSignature, signatures } = run;
    const scores = new Float64Array(this.detectors.length);
    const calibratedScores = calibrated.scores[k];
    for (let d = 0; d < this.detectors.length; d++) signatures[d] = perDetector[d]?.[k]?.signature || undefined;
    for (let i = 0; i < evs.length; i++) {
      const ev = evs[i];
      const base = i * this.detectors.length;
      for (let d = 0; d < this.detectors.length; d++) {
        const given = signatures[d];
        scores[d] = calibratedScores[base + d];
        signature[d] = given !== undefined ? Math.min(given[i], scores[d]) : wholeSignature[d] ? scores[d] : 0;
      }
      if (scoreObservers) for (let d = 0; d < scores.length; d++) scoreObservers[d].observe(scores[d]);
      if (state.eventsSeen > 0) this.store.notePause(state.key, ev.ts - state.lastTs);
      state.eventsSeen++;
      state.lastTs = Math.max(state.lastTs, ev.ts);
      if (ev.tenant !== null) state.tenant = ev.tenant;
      const tenant = state.tenant ?? null;
      const carried = this.succession ? this.succession.carried(state, state.key, ev, this.referenceOf, run.batchEvents) : 0;
      let shadowChanged = false;
      let assessment: FusionAssessment;
      if (this.anyShadow) {
        // Shadowed detectors are scored and published, but the enforced risk is fused without them.
        for (let d = 0; d < scores.length; d++) {
          enforced[d] = this.shadowed[d] ? 0 : scores[d];
          enforcedSignature[d] = this.shadowed[d] ? 0 : signature[d];
        }
        state.shadowRisk = KeySuccession.combine(this.fuse(scores, signature, carried).risk, carried);
        assessment = this.fuse(enforced, enforcedSignature, carried);
        state.risk = KeySuccession.combine(assessment.risk, carried);
        state.shadowLadder ??= initialLadderState();
        shadowChanged = this.ladder.step(state.key, state.shadowLadder, state.shadowRisk, ev.ts, tenant, ev.client_ip, true).changed;
      } else {
        assessment = this.fuse(scores, signature, carried);
        state.risk = KeySuccession.combine(assessment.risk, carried);
      }
      const from = state.ladder.level;
      const step = this.ladder.step(state.key, state.ladder, state.risk, ev.ts, tenant, ev.client_ip, true);
      // A key is remembered at the risk its evidence marks it with (enforced or held below throttle), or at the threshold of the level its ladder holds when that is higher.
      this.succession?.observe(state.key, ev, Math.max(KeySuccession.combine(assessment.marked, carried), this.ladder.threshold(state.ladder.level, tenant)), this.referenceOf(ev.model_id));
      const last = i === evs.length - 1;
      const changed = step.changed || shadowChanged;
      // Notes are built only for the events whose scores are recorded (no closure per event).
      if (changed || last) this.recordScores(state, scores, perDetector, k, i, this.notes(calibrated.discounts[k]?.get(i), assessment, scores, state));
      let score: RiskScore | undefined;
      if (changed) {
        out.changes.push((score = this.riskScore(state, ev.ts)));
        if (step.changed) this.metrics?.levelChanges.inc({ level: step.level });
        if (step.persisted) this.metrics?.persistenceSteps.inc({ from: step.persisted, to: step.level });
      } else if (this.config.publish.riskEveryEvents > 0 && state.eventsSeen % this.config.publish.riskEveryEvents === 0) {
        if (!last) this.recordScores(state, scores, perDetector, k, i, this.notes(calibrated.discounts[k]?.get(i), assessment, scores, state));
        out.updates.push(this.riskScore(state, ev.ts));
      }
      if (step.decide || shadowChanged) {
        const decision = this.decision(state, step.allowlisted);
        out.decisions.push(decision);
        this.metrics?.decisions.inc({ level: decision.level, shadow: String(decision.shadow) });
        this.metrics?.decisionsByDetector.inc({ level: decision.level, detector: this.leadingDetector(scores) });
        if (shadowChanged) this.metrics?.decisions.inc({ level: decision.shadow_level!, shadow: 'detector' });
        if (step.changed && score && levelRank(step.level) > levelRank(from)) out.escalations.push({ from, score, decision, tenant });
      }
    }
    out.touched.push(state.key);
    this.store.markChanged(state.key);
  }

  /** Group decisions from the cross-key detectors' readings of this batch. */
  private decideGroups(out: PipelineOutput): void {
    const verdicts = this.detectors.flatMap((d, i) => (this.shadowed[i] ? [] : (d.groupVerdicts?.() ?? [])));
    if (verdicts.length === 0) return;
    verdicts.sort((a, b) => a.ts - b.ts);
    for (const decision of this.groupDecisions!.observe(verdicts, this.ladder.shadow(null))) {
      out.decisions.push(decision);
      this.metrics?.groupDecisions.inc({ scope: decision.scope ?? 'key', level: decision.level });
    }
    this.metrics?.groupLadders.set(this.groupDecisions!.size);
  }

  /**
   * Behavioural detectors are fused by the configured method (`fusion.method`:
   * weighted noisy-OR, or logistic σ(bias + Σ wᵢsᵢ)); rate detectors (volume)
   * only lift the risk to their own weighted score, so volume alone justifies
   * throttling but never compounds into truncation; each evidence family
   * counts once, and truncate needs a signature or two families (see
   * createFusion). The returned assessment is reused by the next call.
   */
  private fuse(scores: Float64Array, signature: Float64Array, carried: number): FusionAssessment {
    return this.fusion.assess(scores, signature, carried);
  }

  /** One RiskScore per key with `final: true`, for the end of a replay. */
  finalScores(): RiskScore[] {
    return [...this.store.entries()]
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((s) => ({ ...this.riskScore(s, s.lastTs), final: true }));
  }

  private group(events: readonly InferenceEvent[]): Map<string, InferenceEvent[]> {
    const groups = new Map<string, InferenceEvent[]>();
    // Each key's state taken from the store once (which also marks it recently used), not once per event.
    const held = new Map<string, KeyState>();
    for (const e of events) {
      let state = held.get(e.api_key);
      if (!state) held.set(e.api_key, (state = this.store.get(e.api_key)));
      if (!this.store.remember(state, e.event_id)) {
        this.metrics?.duplicates.inc({ reason: 'event_id' });
        continue;
      }
      if (e.ts > this.maxTs) this.maxTs = e.ts;
      let g = groups.get(e.api_key);
      if (!g) groups.set(e.api_key, (g = []));
      g.push(e);
    }
    if (held.size > groups.size) this.touchInLastEventOrder(events, groups);
    // Event time within a key: a gateway's clock only moves forward, but partitions interleave.
    for (const g of groups.values()) if (!isSorted(g)) g.sort((a, b) => a.ts - b.ts);
    return groups;
  }

  /**
   * Marks the keys whose every event in the batch was a duplicate recently used in the order of
   * their last event, as taking each event's key from the store did (the keys grouped are taken
   * again after grouping, in their first event's order).
   */
  private touchInLastEventOrder(events: readonly InferenceEvent[], groups: Map<string, InferenceEvent[]>): void {
    const last = new Map<string, number>();
    events.forEach((e, i) => {
      if (groups.has(e.api_key)) return;
      last.delete(e.api_key);
      last.set(e.api_key, i);
    });
    for (const key of last.keys()) this.store.get(key);
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
    const name = d.name;
    const batch: KeyGroup<unknown>[] = [];
    // Per key, its place in `batch` (-1: no events for this detector).
    const slot = new Int32Array(keys.length);
    const digest = this.settingsDigests[this.detectors.indexOf(d)];
    const stale = this.superseded.get(name);
    for (let k = 0; k < keys.length; k++) {
      const events = views[k].events;
      slot[k] = -1;
      if (events.length === 0) continue;
      const s = states[k];
      // Only settings a reload replaced make state stale: a restart or an upgrade (new defaults) keeps it, as before reloads existed.
      if (!(name in s.detectors) || (stale && (s.detectorSettings?.[name] === undefined || stale.has(s.detectorSettings[name])))) s.detectors[name] = d.initState();
      (s.detectorSettings ??= {})[name] = digest;
      slot[k] = batch.length;
      batch.push({ key: keys[k], events, state: s.detectors[name] });
    }
    const ctx = new BatchContext(this.compute, this.entityStage, this.references, this.store, name, this.maxTs);
    try {
      const result = batch.length ? d.processBatch(batch, ctx) : [];
      for (let k = 0; k < keys.length; k++) if (slot[k] >= 0) states[k].detectors[name] = batch[slot[k]].state;
      const outputs: (DetectorOutput | undefined)[] = [];
      for (let k = 0; k < keys.length; k++) {
        const output = slot[k] < 0 ? undefined : result[slot[k]];
        // A key whose events this detector saw all of takes the output as it is; the previous score and evidence are read only to spread.
        outputs.push(views[k].map === null ? output : spread(output, views[k], states[k].scores[name] ?? 0, states[k].evidence[name] ?? []));
      }
      return outputs;
    } catch (err) {
      this.metrics?.detectorErrors.inc({ detector: d.name });
      this.logger.error({ err, detector: d.name, keys: keys.length }, 'detector failed; its scores count as 0 for this batch');
      return undefined;
    }
  }

  /**
   * Peer calibration of every event's behavioural scores, walked in event
   * time across keys (the peer table folds at event-time epoch boundaries, so
   * the result does not depend on how events were cut into batches).
   */
  private calibrate(
    keys: string[],
    groups: Map<string, InferenceEvent[]>,
    states: KeyState[],
    perDetector: ReturnType<DetectionPipeline['runDetector']>[],
  ): { scores: Float64Array[]; discounts: (Map<number, (Discount | null)[]> | undefined)[] } {
    const D = this.detectors.length;
    const evs = keys.map((key) => groups.get(key)!);
    const scores = evs.map((e) => new Float64Array(e.length * D));
    const discounts: (Map<number, (Discount | null)[]> | undefined)[] = new Array(keys.length);
    // The batch's events flattened key by key, walked in event time; ties keep that order (as a stable sort by time would).
    let total = 0;
    for (const e of evs) total += e.length;
    const keyOf = new Int32Array(total);
    const indexOf = new Int32Array(total);
    const ts = new Float64Array(total);
    for (let k = 0, f = 0; k < evs.length; k++) {
      for (let i = 0; i < evs[k].length; i++, f++) {
        keyOf[f] = k;
        indexOf[f] = i;
        ts[f] = evs[k][i].ts;
      }
    }
    const order = new Uint32Array(total);
    for (let f = 0; f < total; f++) order[f] = f;
    order.sort((a, b) => ts[a] - ts[b] || a - b);
    // Each key's score columns, one per detector, looked up once: the walk reads them event by event, across keys.
    const columns: (ArrayLike<number> | undefined)[] = new Array(keys.length * D);
    for (let k = 0; k < keys.length; k++) for (let d = 0; d < D; d++) columns[k * D + d] = perDetector[d]?.[k]?.scores;
    const walk: CalibrationWalk = { keys, evs, states, columns, scores, discounts, raw: new Float64Array(D), out: new Float64Array(D), given: new Array(D).fill(null) };
    // One call per event: optimised within the first batch (this method runs once per batch, without on-stack replacement).
    for (let o = 0; o < total; o++) this.calibrateEvent(walk, keyOf[order[o]], indexOf[order[o]]);
    return { scores, discounts };
  }

  /** Peer calibration of event `i` of key `k` (`calibrate`'s step). */
  private calibrateEvent(w: CalibrationWalk, k: number, i: number): void {
    const D = this.detectors.length;
    const { columns, raw, out, given } = w;
    for (let d = 0; d < D; d++) {
      const column = columns[k * D + d];
      raw[d] = column === undefined ? 0 : (column[i] ?? 0);
    }
    this.calibration.apply(w.keys[k], w.evs[k][i], w.states[k].eventsSeen + i + 1, raw, out, given);
    w.scores[k].set(out, i * D);
    let discounted = false;
    for (let d = 0; d < D; d++) if (given[d] !== null) discounted = true;
    if (discounted) (w.discounts[k] ??= new Map()).set(i, [...given]);
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
      // The behavioural detectors' outputs for this key, looked up once (flagged is asked per event).
      const outputs = behavioural.map((d) => perDetector[d]?.[k]).filter((o) => o !== undefined);
      return {
        key,
        events: view.events,
        feed: (states[k].reference ??= createKeyFeedState()),
        flagged: (i: number) => {
          const j = pos ? pos[i] : i;
          for (const o of outputs) if (o.scores[j] >= cut || (o.keepOut !== undefined && o.keepOut[j] !== 0)) return true;
          return false;
        },
      };
    });
    this.references.offerBatch(groups);
    this.references.end();
  }

  /** Exports each rung persistence may step a key up at 0 from the start, so a dashboard's rate() has a series before the first step. */
  private exportPersistenceSteps(persistence: Config['policy']['persistence']): void {
    if (!this.metrics || !persistence.enabled) return;
    for (let r = levelRank(persistence.fromLevel); r < levelRank(persistence.toLevel); r++) this.metrics.persistenceSteps.inc({ from: LEVELS[r], to: LEVELS[r + 1] }, 0);
  }

  /** What calibration and fusion did to one event's scores, as sentences. */
  private notes(discounts: (Discount | null)[] | undefined, assessment: FusionAssessment, scores: Float64Array, state: KeyState): string[] {
    const notes = [...calibrationNotes(this.detectors, discounts), ...fusionNotes(assessment, this.detectors, scores)];
    if (state.succession?.linked) notes.push(KeySuccession.evidence(state.succession));
    return notes;
  }

  /** The model's reference as the detectors of this batch read it (null when no detector reads one). */
  private readonly referenceOf = (model: string) => this.batchReferences.get(model) ?? null;
  private readonly batchReferences = new Map<string, ModelReference | null>();

  private recordScores(state: KeyState, scores: Float64Array, perDetector: ReturnType<DetectionPipeline['runDetector']>[], k: number, i: number, notes: string[]): void {
    for (let d = 0; d < this.detectors.length; d++) {
      const name = this.detectors[d].name;
      const output = perDetector[d]?.[k];
      state.scores[name] = round(scores[d]);
      const evidence = output?.explain ? output.explain(i) : (output?.evidence ?? NO_EVIDENCE);
      state.evidence[name] = evidence.length === 0 ? NO_EVIDENCE : flatStrings(evidence);
    }
    if (notes.length) state.fusionNotes = flatStrings(notes);
    else state.fusionNotes = undefined;
  }

  private scoreMetricFor(detector: string): { observe(value: number): void } {
    let child = this.scoreMetric.get(detector);
    if (!child && this.metrics) {
      child = this.metrics.detectorScore.labels({ detector });
      this.scoreMetric.set(detector, child);
      // Exported at 0 from the start, so an alert's increase() sees the detector's first error.
      this.metrics.detectorErrors.inc({ detector }, 0);
    }
    return child!;
  }

  /** The enforced detector with the largest weighted score (what a dashboard attributes a decision to), or 'none'. */
  private leadingDetector(scores: Float64Array): string {
    let best = -1;
    let top = 0;
    for (let d = 0; d < scores.length; d++) {
      const weighted = this.shadowed[d] ? 0 : scores[d] * this.weights[d];
      if (weighted > top) {
        best = d;
        top = weighted;
      }
    }
    return best < 0 ? 'none' : this.detectors[best].name;
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
    // Every score a gateway may act on says why, even when no detector wrote a sentence.
    if (score.evidence.length === 0 && state.risk >= this.config.policy.thresholds.observe) {
      score.evidence = drivers.map((x) => `${x.name}: score ${round(state.scores[x.name] ?? 0)}`);
    }
    if (state.fusionNotes) score.evidence.push(...state.fusionNotes);
    // A level persistence raised above the risk's says so first: it is the reason the level is in force.
    const raisedFrom = state.ladder.raisedFrom;
    if (raisedFrom !== undefined) {
      const { level, since } = state.ladder;
      score.evidence.unshift(`policy: ${level} since ${new Date(since).toISOString()}: the key went on calling at ${raisedFrom} (${this.config.policy.persistence.calls} calls or more) and its risk still held it there (policy.persistence)`);
    }
    // A level the ladder holds after the risk fell (hysteresis, the level's TTL) still says why it is in force.
    if (score.evidence.length === 0 && state.ladder.level !== 'allow') {
      const { since, expiresAt } = state.ladder;
      score.evidence.push(`policy: ${state.ladder.level} held since ${new Date(since).toISOString()} until ${new Date(expiresAt).toISOString()} (a level lasts its TTL; risk now ${round(state.risk)})`);
    }
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

/** Sentences for the scores peer calibration discounted. */
function calibrationNotes(detectors: readonly Detector[], discounts: (Discount | null)[] | undefined): string[] {
  if (!discounts) return [];
  const notes: string[] = [];
  discounts.forEach((x, d) => {
    if (x && x.factor < 1) {
      notes.push(`calibration: ${detectors[d].name} ×${round(x.factor)} — ${Math.round(x.common * 100)}% of ${round(x.votes)} peer votes of the model score as high`);
    }
  });
  return notes;
}

/** Sentences for what fusion did beyond combining scores. */
function fusionNotes(a: FusionAssessment, detectors: readonly Detector[], scores: Float64Array): string[] {
  const notes: string[] = [];
  if (a.capped) {
    const families = a.supporting.length ? a.supporting.join(', ') : 'none';
    notes.push(`fusion: held below ${a.heldBelow} — families at support: ${families}; no extraction signature and no second independent family`);
  }
  if (a.groupWithheld) {
    const group = detectors.map((d, i) => (d.family === 'cross-key' ? `${d.name} ${round(scores[i])}` : '')).filter(Boolean);
    notes.push(`fusion: group evidence (${group.join(', ')}) not applied to this key: it has no evidence of its own`);
  }
  return notes;
}

/** A short digest of one detector's own settings (not `enabled`, `weight`, `shadow`, which only fusion reads). */
function detectorSettingsDigest(section: unknown): string {
  const { enabled: _e, weight: _w, shadow: _s, ...own } = (section ?? {}) as Record<string, unknown>;
  const canonical = JSON.stringify(own, (_k, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v === Infinity ? 'Infinity' : v));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12);
}

function isSorted(g: InferenceEvent[]): boolean {
  for (let i = 1; i < g.length; i++) if (g[i].ts < g[i - 1].ts) return false;
  return true;
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

/** What `processKey` reads of its batch, and the batch's scratch rows (one object per batch). */
interface KeyRun {
  groups: Map<string, InferenceEvent[]>;
  perDetector: ((DetectorOutput | undefined)[] | undefined)[];
  calibrated: { scores: Float64Array[]; discounts: (Map<number, (Discount | null)[]> | undefined)[] };
  scoreObservers: { observe(value: number): void }[] | undefined;
  out: PipelineOutput;
  enforced: Float64Array;
  enforcedSignature: Float64Array;
  signature: Float64Array;
  wholeSignature: boolean[];
  signatures: (ArrayLike<number> | undefined)[];
  batchEvents: (key: string) => readonly InferenceEvent[] | undefined;
}

/** What `calibrateEvent` reads and writes, and its scratch rows (one object per batch). */
interface CalibrationWalk {
  keys: readonly string[];
  evs: readonly InferenceEvent[][];
  states: readonly KeyState[];
  /** Each key's score column per detector, at `k * detectors + d`. */
  columns: (ArrayLike<number> | undefined)[];
  scores: Float64Array[];
  discounts: (Map<number, (Discount | null)[]> | undefined)[];
  raw: Float64Array;
  out: Float64Array;
  given: (Discount | null)[];
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
function spread(output: DetectorOutput | undefined, view: DetectorView, previous: number, previousEvidence: readonly string[]): DetectorOutput | undefined {
  const map = view.map;
  if (map === null) return output;
  const scores = new Float64Array(map.length);
  for (let i = 0; i < map.length; i++) scores[i] = map[i] < 0 || !output ? previous : output.scores[map[i]];
  const explain = (i: number): string[] => (map[i] < 0 || !output ? previousEvidence.slice() : output.explain ? output.explain(map[i]) : output.evidence);
  const spreadOut: DetectorOutput = { scores, evidence: explain(map.length - 1), explain };
  const given = output?.signature;
  if (given) spreadOut.signature = Float64Array.from(map, (m) => (m < 0 ? 0 : given[m]));
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
    escalations: parts.flatMap((p) => p.escalations),
  };
}
