import { z } from 'zod';
import { type BatchWalk, eventTimeOrder, flatEvents, groupOffsets, modelLabel, modelProbs, perGroup, rowKernel, usableAnswer } from './shared/batch.ts';
import { balanceFields, balanceScore, balanceTest, classIndex } from './shared/ClassMix.ts';
import { activeKeys, contribute, type Contribution, createEntityView, type EntityView, NO_KEYS, type ViewLimits } from './shared/EntityView.ts';
import { addToHistogram, advanceEpoch, createHistogram, createQuota, type EpochHistogram, type EpochQuota, histogramReady, takeQuota } from './shared/EpochHistogram.ts';
import { shareExcess, shareExcessZ } from './shared/EwShare.ts';
import {
  addShape,
  advanceShape,
  createGeometry,
  createShapeBaseline,
  type GeometryState,
  geometryGroupId,
  geometrySchema,
  observeGeometry,
  type ShapeBaseline,
} from './shared/GeometrySignature.ts';
import { fmt, pct, ramp } from './shared/math.ts';
import {
  addMoments,
  advanceMoments,
  bucketOf,
  createMoments,
  expectedDistinct,
  project,
  type ProjectionMoments,
  ringDistinct,
  sketchBucketsSchema,
} from './shared/SketchBuckets.ts';
import { entityName } from './shared/entityName.ts';
import { LocalTail, localTailSchema } from './shared/LocalTail.ts';
import { prefixOf } from './shared/prefixOf.ts';
import { scorableProbs, tailShareScore } from './shared/TailShare.ts';
import { baselineOptions, inTail, type Tail, TailCache, tailBaselineSchema, tailBin } from './shared/TailBaseline.ts';
import type { ModelReference } from '../src/baselines/ModelReference.ts';
import type { AggregateFact, EntityStageLink, GroupReading, ModelDigest } from './shared/aggregateFacts.ts';
import type { InferenceEvent } from '../src/contract.ts';
import type { Detector, DetectorContext, DetectorDefinition, DetectorOutput, GroupVerdict, KeyGroup } from './types.ts';
import { DOUBLE_ZERO } from '../src/state/doubleZero.ts';

const COMPONENTS = ['margin', 'entropy', 'halving', 'occupancy', 'spread', 'balance'] as const;
type Component = (typeof COMPONENTS)[number];

export const aggregatesConfigSchema = z.object({
  /** Which aggregate views run. */
  views: z
    .object({ tenant: z.boolean().default(true), prefix: z.boolean().default(true), geometry: z.boolean().default(true) })
    .strict()
    .prefault({}),
  /** Per-model baselines, learned online from all keys (as in the per-key detectors). */
  baseline: tailBaselineSchema,
  marginQuantile: z.number().gt(0).lt(1).default(0.1),
  marginMin: z.number().min(0).max(1).default(0.02),
  marginMax: z.number().min(0).max(1).default(0.3),
  entropyQuantile: z.number().gt(0).lt(1).default(0.1),
  entropyMin: z.number().min(0).max(1).default(0.05),
  entropyMax: z.number().min(0).max(1).default(0.98),
  /**
   * Each pooled answer's expected chance of a small margin or a high entropy is the share the model's
   * traffic gets near its query (`LocalTail`, from the model's shared reference), not the model-wide
   * share: a team whose questions fall where the model is unsure is not an active-learning campaign.
   */
  local: localTailSchema,
  buckets: sketchBucketsSchema,
  geometry: geometrySchema,
  /** An entity is scored once this many distinct keys fed it within `keyActiveEpochs` baseline epochs… */
  minKeys: z.number().int().min(2).default(3),
  keyActiveEpochs: z.number().int().positive().default(3),
  /** …and once it pooled this many events. */
  minEvents: z.number().int().positive().default(100),
  /** Most events one key adds to its entities per baseline epoch (no single key can make an aggregate). */
  perKeyEpochCap: z.number().int().positive().default(40),
  /** Effective window (events) of pooled shares, horizon of the pooled class mix. */
  window: z.number().int().positive().default(300),
  mixWindow: z.number().int().positive().default(400),
  maxClasses: z.number().int().min(2).max(1024).default(64),
  maxTrackedKeys: z.number().int().positive().max(1024).default(64),
  maxModelsPerEntity: z.number().int().positive().max(64).default(4),
  /** A group's reading is reported (for group decisions) when its score moves to another step of this size. */
  verdictStep: z.number().gt(0).max(1).default(0.05),
  /** ...and again after this much event time at the same step (above the first), so a steady group's decision is refreshed before it lapses. */
  verdictRefreshMs: z.number().int().positive().default(5 * 60_000),
  /** Groups whose last reported step is remembered (process memory; past it the memory starts over). */
  maxVerdictGroups: z.number().int().positive().default(65_536),
  /** Excess share (s − p₀)/(1 − p₀) and z-score of pooled margins/entropies where the score starts and is full. */
  excessLow: z.number().min(0).max(1).default(0.15),
  excessHigh: z.number().min(0).max(1).default(0.5),
  zLow: z.number().default(3),
  zHigh: z.number().default(6),
  /** Share of pooled steps that halve the one before along a line (bisection) where the score starts and is full. */
  halvingLow: z.number().min(0).max(1).default(0.1),
  halvingHigh: z.number().min(0).max(1).default(0.3),
  /** Pooled bucket ring: size, fill needed, and occupancy over the expected where the score starts and is full. */
  ringSize: z.number().int().positive().max(1024).default(128),
  minRing: z.number().int().positive().default(64),
  occupancyLow: z.number().positive().default(1.25),
  occupancyHigh: z.number().positive().default(1.8),
  /**
   * Spread: log2 of the pooled queries' RMS distance from the model centre over
   * the model's own RMS, where the score starts and is full (queries spread over
   * the whole input box, as a lattice or random sweep split across keys is).
   */
  spreadLog2Low: z.number().min(0).default(0.5),
  spreadLog2High: z.number().min(0).default(0.9),
  alignSpreadLog2: z.number().min(0).default(0.3),
  /** Balanced class coverage of the pooled mix (see output-drift), evaluated every `balanceEvery` contributions. */
  ...balanceFields,
  balanceEvery: z.number().int().positive().default(10),
  /** A key's own view (window, ring) decides whether it leans the way its aggregate does. */
  keyWindow: z.number().int().positive().default(100),
  keyRing: z.number().int().positive().max(256).default(32),
  alignMinEvents: z.number().int().positive().default(10),
  alignExcess: z.number().min(0).max(1).default(0.1),
  alignHalving: z.number().min(0).max(1).default(0.05),
  alignOccupancy: z.number().positive().default(1.2),
  alignBalance: z.number().default(0.3),
  alignBalanceZ: z.number().default(2.5),
  /** Share of an aggregate's score carried by a member key that does not lean its way. */
  bystanderFactor: z.number().min(0).max(1).default(0.3),
});
export type AggregatesConfig = z.output<typeof aggregatesConfigSchema>;

/**
 * Per-key state. Ceiling: the key's own view (as `EntityView`, with a
 * `keyRing` ring and no key ids: older snapshots hold its own), its geometry (3 sketches + a centroid of
 * `d` floats, `dirSlots` counters) and two quotas: with 16-wide sketches,
 * 10 classes and the defaults under 1.8 kB as a snapshot section.
 */
export interface AggregatesState {
  own: EntityView;
  geometry: GeometryState;
  poolQuota: EpochQuota;
  baseQuota: EpochQuota;
  group: string | null;
  score: number;
}

interface ModelBaselines {
  margin: EpochHistogram;
  entropy: EpochHistogram;
  classes: EpochHistogram;
  width: number;
  moments: ProjectionMoments;
  buckets: EpochHistogram;
  shape: ShapeBaseline;
}

type Scores = Record<Component, number>;

/** What `step` reads and writes of one batch (see `BatchWalk`). */
interface AggregatesWalk extends BatchWalk<AggregatesState> {
  stage: EntityStageLink | undefined;
  opts: ReturnType<typeof baselineOptions>;
  offsets: number[];
  margins: Float64Array;
  nats: Float64Array;
  evidence: string[][];
  models: Map<string, ModelBaselines>;
  entities: Map<string, Record<string, EntityView>>;
  tails: TailCache;
  x: Contribution;
  marginObs: { hit: boolean; expected: number };
  entropyObs: { hit: boolean; expected: number };
  aligned: Record<Component, boolean>;
  names: string[];
  owners: Uint32Array;
  refs: Map<string, ModelReference | null>;
  dg: ModelDigest;
}

interface EntityRead {
  name: string;
  /** Null for a reading received from the aggregate stage (its `detail` then quotes every component). */
  view: EntityView | null;
  keys: number;
  scores: Scores;
  /** Sentence pieces behind each component (last event of a key only). */
  detail?: Partial<Record<Component, string>>;
}

/**
 * Aggregate views: the boundary-probing, entropy and output-drift views —
 * small-margin and high-entropy shares against what the model's traffic
 * gets near the same queries (`LocalTail`), the share of bisection
 * steps, input-bucket occupancy, the spread of the queries, and balanced
 * class coverage — pooled per tenant (`tenant:…`), per client
 * network (`prefix:…`, /24 IPv4 and /64 IPv6) and per group of keys with
 * alike query geometry (`geo:…`, see `GeometrySignature`), so that an
 * attacker who spreads a campaign over many keys — each too small for a
 * per-key detector — is still seen (Juuti et al., PRADA, EuroS&P 2019, and
 * Orekondy et al., CVPR 2019, both note that per-client detection is evaded
 * by Sybil accounts).
 *
 * Each key adds at most `perKeyEpochCap` events per epoch to its entities,
 * and an entity is judged only once `minKeys` distinct keys fed it, so no
 * single heavy key makes an aggregate. A key's score is the strongest score
 * among the entities it belongs to — in full where the key itself leans the
 * same way (its own share of the offending view is raised), else reduced to
 * `bystanderFactor` of it.
 */
export class AggregatesDetector implements Detector<AggregatesState> {
  readonly name = 'aggregates';
  readonly family = 'cross-key' as const;
  private readonly limits: ViewLimits;
  private readonly ownLimits: ViewLimits;
  /** Expected small-margin and high-entropy shares near each query, from the model's shared reference. */
  private readonly local: LocalTail;
  /** Group readings of the last batch (`groupVerdicts`). */
  private verdicts: GroupVerdict[] = [];
  /** Scratch for a query's LSH projections (read within the query's step only). */
  private readonly projection: number[] = [];
  /** Per model and group: the step of `verdictStep` and event time of its last recorded reading (process memory, bounded). */
  private readonly verdictSteps = new Map<string, { step: number; ts: number }>();
  /**
   * Expected distinct buckets per model bucket reference and ring length. A fold replaces a histogram's
   * `ref` array and never writes into it, so the answer stands while the array does (across batches).
   */
  private readonly expectedCache = new WeakMap<number[], Map<number, number>>();

  constructor(private readonly config: AggregatesConfig) {
    const c = config;
    this.local = new LocalTail(c.local);
    this.limits = { window: c.window, mixWindow: c.mixWindow, maxClasses: c.maxClasses, ringSize: c.ringSize, maxTrackedKeys: c.maxTrackedKeys };
    this.ownLimits = { window: c.keyWindow, mixWindow: c.keyWindow, maxClasses: c.maxClasses, ringSize: c.keyRing, maxTrackedKeys: 0 };
  }

  initState(): AggregatesState {
    return { own: createEntityView(NO_KEYS as Record<string, number>), geometry: createGeometry(), poolQuota: createQuota(), baseQuota: createQuota(), group: null, score: DOUBLE_ZERO };
  }

  groupVerdicts(): readonly GroupVerdict[] {
    return this.verdicts;
  }

  /**
   * Records a group's reading when its score moved to another step of `verdictStep` since the group's last
   * recorded one (so a batch yields a handful per group, not one per event), or when a group above the first
   * step last had one recorded `verdictRefreshMs` ago (so its ladder can refresh its decision), with the evidence
   * read in full.
   */
  private noteVerdict(read: EntityRead, view: EntityView, model: string, ts: number, dg: ModelDigest, cache: WeakMap<number[], Map<number, number>>): void {
    let comp: Component = COMPONENTS[0];
    for (const k of COMPONENTS) if (read.scores[k] > read.scores[comp]) comp = k;
    const score = read.scores[comp];
    const step = Math.floor(score / this.config.verdictStep);
    const slot = `${model}\u0000${read.name}`;
    const last = this.verdictSteps.get(slot);
    const due = step > 0 && last !== undefined && ts - last.ts >= this.config.verdictRefreshMs;
    if ((last?.step ?? 0) === step && !due) return;
    if (this.verdictSteps.size >= this.config.maxVerdictGroups && !last) this.verdictSteps.clear();
    this.verdictSteps.set(slot, { step, ts });
    const { scope, subject } = groupOf(read.name);
    const sentence = this.sentence(this.read(read.name, view, read.keys, dg, cache, true), comp, true);
    this.verdicts.push({ scope, subject, model, ts, score, keys: read.keys, evidence: () => sentence });
  }

  processBatch(groups: readonly KeyGroup<AggregatesState>[], ctx: DetectorContext): DetectorOutput[] {
    const c = this.config;
    const stage = ctx.entityStage;
    this.verdicts = stage ? stage.takeVerdicts() : [];
    const opts = baselineOptions(c.baseline);
    const { offsets } = groupOffsets(groups);
    const probsRows = flatEvents(groups).map(scorableProbs);
    const margins = rowKernel(probsRows, (m, w) => ctx.compute.topMargin(m, w));
    const nats = rowKernel(probsRows, (m, w) => ctx.compute.rowEntropy(m, w));
    const scores = perGroup(groups, (grp) => new Float64Array(grp.events.length));
    const evidence: string[][] = perGroup(groups, () => []);

    // Per poll: each model's baselines and each entity's views are looked up once, not once per event.
    const walk: AggregatesWalk = {
      groups,
      ctx,
      stage,
      opts,
      offsets,
      margins,
      nats,
      scores,
      evidence,
      models: new Map(),
      entities: new Map(),
      tails: new TailCache(),
      x: { key: '', epoch: 0, margin: undefined, entropy: undefined, halving: undefined, label: -1, bucket: -1, d2: undefined },
      marginObs: { hit: false, expected: 0 },
      entropyObs: { hit: false, expected: 0 },
      aligned: noAlignment(),
      names: [],
      owners: Uint32Array.from(groups, (grp) => LocalTail.owner(grp.key)),
      refs: new Map(),
      dg: { width: 0, rms: 0, classes: null, buckets: null, marginThreshold: null, entropyThreshold: null, local: false },
    };
    // Event time across keys: pooled views see the stream in the same order whatever the poll size. One `step`
    // call per event (see `BatchWalk`).
    const order = eventTimeOrder(groups);
    for (let o = 0; o < order.length; o++) this.step(walk, order[o].g, order[o].i, order[o].e);
    return groups.map((_, g) => ({ scores: scores[g], evidence: evidence[g] }));
  }

  /** One event of the batch, in event time across keys (`processBatch`'s step). */
  private step(w: AggregatesWalk, g: number, i: number, e: InferenceEvent): void {
    const c = this.config;
    const expectedCache = this.expectedCache;
    const { groups, ctx, stage, opts, offsets, margins, nats, scores, evidence, models, entities, tails, x, marginObs, entropyObs, aligned, names, owners, refs, dg } = w;
    const state = groups[g].state;
    const isLast = i === groups[g].events.length - 1;
    let m = models.get(e.model_id);
    if (!m) models.set(e.model_id, (m = ctx.aggregate<ModelBaselines>(entityName('model:', e.model_id), () => this.createBaselines())));
    advanceEpoch(m.margin, e.ts, opts);
    advanceEpoch(m.entropy, e.ts, opts);
    advanceEpoch(m.classes, e.ts, opts);
    advanceEpoch(m.buckets, e.ts, opts);
    advanceMoments(m.moments, e.ts, opts);
    advanceShape(m.shape, e.ts, opts);
    let ref = refs.get(e.model_id);
    if (ref === undefined) refs.set(e.model_id, (ref = ctx.reference(e.model_id)));
    const epoch = Math.floor(e.ts / c.baseline.epochMs);

    const row = offsets[g] + i;
    const marginTail = tails.get(m.margin, c.baseline, 'low', c.marginQuantile, c.marginMin, c.marginMax);
    const entropyTail = tails.get(m.entropy, c.baseline, 'high', c.entropyQuantile, c.entropyMin, c.entropyMax);
    const margin = margins[row];
    const entropy = nats[row] / Math.log(modelProbs(e).length);
    const hasSketch = e.input_sketch.length > 0;
    const halving = observeGeometry(state.geometry, e.input_sketch, m.shape, c.geometry);
    let proj: number[] | null = null;
    let bucket = -1;
    if (hasSketch) {
      proj = project(e.input_sketch, c.buckets, this.projection);
      bucket = bucketOf(proj, e.input_sketch.length, m.moments, c.buckets);
    }
    x.key = groups[g].key;
    x.epoch = epoch;
    const scoreMargin = Number.isFinite(margin) && marginTail !== null;
    const scoreEntropy = Number.isFinite(entropy) && entropyTail !== null;
    const near = scoreMargin || scoreEntropy ? this.local.neighbours(ref, e.input_sketch, owners[g]) : null;
    if (scoreMargin) {
      marginObs.hit = inTail(margin, marginTail, 'low');
      marginObs.expected = this.local.expected(ref, near, 'margin', marginTail, 'low');
      x.margin = marginObs;
    } else x.margin = undefined;
    if (scoreEntropy) {
      entropyObs.hit = inTail(entropy, entropyTail, 'high');
      entropyObs.expected = this.local.expected(ref, near, 'entropy', entropyTail, 'high');
      x.entropy = entropyObs;
    } else x.entropy = undefined;
    x.halving = hasSketch && state.geometry.n > 2 ? halving : undefined;
    const answered = modelLabel(e);
    x.label = answered < 0 ? -1 : classIndex(answered, c.maxClasses);
    x.bucket = bucket;
    x.d2 = squaredFromCentre(e.input_sketch, m.shape);
    if (x.label >= 0) m.width = Math.min(c.maxClasses, Math.max(m.width, x.label + 1, modelProbs(e).length));
    this.digest(m, marginTail, entropyTail, this.local.active(ref), dg);
    contribute(state.own, x, this.ownLimits);
    if (state.own.contributions % c.balanceEvery === 0) this.updateBalance(state.own, dg, c.alignMinEvents);
    this.alignment(state.own, dg, expectedCache, aligned);

    // The model baselines learn from keys that do not lean any way, a few samples per key and epoch.
    const leaning = aligned.margin || aligned.entropy || aligned.halving || aligned.occupancy || aligned.spread || aligned.balance;
    if (!leaning && usableAnswer(e) && takeQuota(state.baseQuota, e.ts, c.baseline.epochMs, c.baseline.perKeyEpochCap)) {
      if (Number.isFinite(margin)) addToHistogram(m.margin, tailBin(margin, c.baseline));
      if (Number.isFinite(entropy)) addToHistogram(m.entropy, tailBin(entropy, c.baseline));
      if (x.label >= 0) addToHistogram(m.classes, x.label);
      if (proj) addMoments(m.moments, proj);
      if (bucket >= 0) addToHistogram(m.buckets, bucket);
      if (hasSketch) addShape(m.shape, e.input_sketch);
    }

    const group = c.views.geometry ? geometryGroupId(state.geometry, m.shape, c.geometry) : null;
    state.group = group ? (state.group !== null && groupMatches(state.group, e.model_id, group) ? state.group : `geo:${e.model_id}:${group}`) : null;
    names.length = 0;
    if (c.views.tenant && e.tenant) names.push(entityName('tenant:', e.tenant));
    const prefix = c.views.prefix ? prefixOf(e.client_ip) : null;
    if (prefix) names.push(entityName('prefix:', prefix));
    if (state.group) names.push(state.group);
    const pooled = takeQuota(state.poolQuota, e.ts, c.baseline.epochMs, c.perKeyEpochCap);

    let best = 0;
    // The strongest reading so far, its component and whether the key leans that way (no object per improvement).
    let whyRead: EntityRead | null = null;
    let whyComp: Component = COMPONENTS[0];
    let whyAligned = false;
    for (const name of names) {
      let read: EntityRead | null;
      if (stage) {
        if (pooled) stage.publish(factOf(name, e.model_id, e.ts, x, dg));
        read = readingOf(stage.reading(name, e.model_id));
      } else {
        let views = entities.get(name);
        if (!views) entities.set(name, (views = ctx.aggregate<Record<string, EntityView>>(name, () => ({}))));
        read = this.pool(name, views, e.model_id, e.ts, epoch, pooled ? x : null, dg);
      }
      if (!read) continue;
      for (const comp of COMPONENTS) {
        const score = read.scores[comp] * (aligned[comp] ? 1 : c.bystanderFactor);
        if (score > best) {
          best = score;
          whyRead = read;
          whyComp = comp;
          whyAligned = aligned[comp];
        }
      }
    }
    state.score = best;
    scores[g][i] = best;
    if (isLast && whyRead) {
      // The sentence pieces of the one reading quoted, read again in full: the other entities pooled after it
      // wrote only their own views, so this view reads as it did. A stage's reading carries its pieces.
      const quoted = whyRead.view ? this.read(whyRead.name, whyRead.view, whyRead.keys, dg, expectedCache, true) : whyRead;
      evidence[g] = [this.sentence(quoted, whyComp, whyAligned)];
    }
  }

  /**
   * Pools one contribution (none when the key is over its quota) into an entity's view for the model and reads
   * the entity: null while fewer than `minKeys` keys fed it recently. Notes a group verdict when due.
   */
  private pool(name: string, views: Record<string, EntityView>, model: string, ts: number, epoch: number, x: Contribution | null, dg: ModelDigest): EntityRead | null {
    const c = this.config;
    let view = views[model];
    if (!view) {
      if (Object.keys(views).length >= c.maxModelsPerEntity) return null;
      view = views[model] = createEntityView();
    }
    if (x) {
      contribute(view, x, this.limits);
      if (view.contributions % c.balanceEvery === 0) this.updateBalance(view, dg, c.minEvents);
    }
    const keys = activeKeys(view, epoch, c.keyActiveEpochs);
    if (keys < c.minKeys) return null;
    const read = this.read(name, view, keys, dg, this.expectedCache, false);
    this.noteVerdict(read, view, model, ts, dg, this.expectedCache);
    return read;
  }

  /**
   * The aggregate stage's side (`aggregateStage.enabled`): pools one fact from the repartition topic into its
   * entity's views, as `processBatch` pools locally otherwise. Verdicts collect until `drainVerdicts`.
   */
  poolFact(f: AggregateFact, views: Record<string, EntityView>, dg: ModelDigest): void {
    this.pool(f.entity, views, f.model, f.ts, f.epoch, f, dg);
  }

  /** The aggregate stage's reading of an entity for a model at an epoch, with every component quoted (`keys` 0 below `minKeys`). */
  readEntity(entity: string, view: EntityView, model: string, ts: number, epoch: number, dg: ModelDigest): GroupReading {
    const keys = activeKeys(view, epoch, this.config.keyActiveEpochs);
    const scored = keys >= this.config.minKeys;
    const read = this.read(entity, view, keys, dg, this.expectedCache, scored);
    return { entity, model, ts, keys: scored ? keys : 0, scores: read.scores, detail: scored ? { ...read.detail, balance: balanceDetail(view) } : {} };
  }

  /** Group verdicts the aggregate stage reached since the last call. */
  drainVerdicts(): GroupVerdict[] {
    const out = this.verdicts;
    this.verdicts = [];
    return out;
  }

  /** Fills `out` with what reading an entity needs of the model's baselines (see `ModelDigest`). */
  private digest(m: ModelBaselines, marginTail: Tail | null, entropyTail: Tail | null, local: boolean, out: ModelDigest): void {
    const minRef = this.config.baseline.minReferenceSamples;
    out.width = m.width;
    out.rms = m.shape.rms;
    out.classes = histogramReady(m.classes, minRef) ? m.classes.ref : null;
    out.buckets = histogramReady(m.buckets, minRef) ? m.buckets.ref : null;
    out.marginThreshold = marginTail?.threshold ?? null;
    out.entropyThreshold = entropyTail?.threshold ?? null;
    out.local = local;
  }

  private createBaselines(): ModelBaselines {
    const c = this.config;
    return {
      margin: createHistogram(c.baseline.bins),
      entropy: createHistogram(c.baseline.bins),
      classes: createHistogram(c.maxClasses),
      width: 0,
      moments: createMoments(c.buckets.projections),
      buckets: createHistogram(c.buckets.buckets),
      shape: createShapeBaseline(),
    };
  }

  private occupancy(view: EntityView, dg: ModelDigest, cache: WeakMap<number[], Map<number, number>>): { distinct: number; expected: number } | null {
    const n = view.ring.ring.length;
    const ref = dg.buckets;
    if (n === 0 || !ref) return null;
    let byN = cache.get(ref);
    if (!byN) cache.set(ref, (byN = new Map()));
    let expected = byN.get(n);
    if (expected === undefined) byN.set(n, (expected = expectedDistinct(ref, n)));
    return { distinct: ringDistinct(view.ring), expected };
  }

  private alignment(own: EntityView, dg: ModelDigest, cache: WeakMap<number[], Map<number, number>>, out: Record<Component, boolean>): void {
    const c = this.config;
    const occ = own.ring.ring.length >= c.alignMinEvents ? this.occupancy(own, dg, cache) : null;
    out.margin = own.margin.n >= c.alignMinEvents && shareExcess(own.margin) >= c.alignExcess;
    out.entropy = own.entropy.n >= c.alignMinEvents && shareExcess(own.entropy) >= c.alignExcess;
    out.halving = own.halving.n >= c.alignMinEvents && own.halving.s >= c.alignHalving;
    out.occupancy = occ !== null && occ.distinct / occ.expected >= c.alignOccupancy;
    out.spread = own.spreadN >= c.alignMinEvents && spreadLog2(own, dg) >= c.alignSpreadLog2;
    out.balance = own.mix.total >= c.alignMinEvents && own.balance > c.alignBalance && own.balanceZ >= c.alignBalanceZ;
  }

  private read(
    name: string,
    view: EntityView,
    keys: number,
    dg: ModelDigest,
    cache: WeakMap<number[], Map<number, number>>,
    detailed: boolean,
  ): EntityRead {
    const c = this.config;
    const occ = view.ring.ring.length >= c.minRing ? this.occupancy(view, dg, cache) : null;
    const scores: Scores = {
      margin: tailShareScore(view.margin, c),
      entropy: tailShareScore(view.entropy, c),
      halving: view.halving.n < c.minEvents ? 0 : ramp(view.halving.s, c.halvingLow, c.halvingHigh),
      occupancy: occ ? ramp(occ.distinct / occ.expected, c.occupancyLow, c.occupancyHigh) : 0,
      spread: view.spreadN < c.minEvents ? 0 : ramp(spreadLog2(view, dg), c.spreadLog2Low, c.spreadLog2High),
      balance: view.balanceScore,
    };
    const read: EntityRead = { name, view, keys, scores };
    if (detailed) {
      const z = (sh: EntityView['margin']) => fmt(shareExcessZ(sh, c.window), 1);
      const against = dg.local ? "for the model's traffic near these queries" : 'baseline';
      read.detail = {
        margin: `${pct(view.margin.s)} of pooled answers had a top-1/top-2 margin < ${fmt(dg.marginThreshold ?? 0)} against ${pct(view.margin.e, 1)} ${against} (z=${z(view.margin)})`,
        entropy: `${pct(view.entropy.s)} of pooled answers had normalised entropy > ${fmt(dg.entropyThreshold ?? 0)} against ${pct(view.entropy.e, 1)} ${against} (z=${z(view.entropy)})`,
        halving: `${pct(view.halving.s)} of pooled steps halved the previous one along a line (bisection)`,
        occupancy: occ ? `last ${view.ring.ring.length} pooled queries fell in ${occ.distinct} input buckets, ${fmt(occ.distinct / occ.expected, 1)}x the ${fmt(occ.expected, 0)} expected` : '',
        spread: `pooled queries lie ${fmt(Math.pow(2, spreadLog2(view, dg)), 1)}x as far from the model's centre as its traffic does`,
      };
    }
    return read;
  }

  /** Re-evaluates a view's balanced-coverage test (see output-drift) against the model's reference. */
  private updateBalance(view: EntityView, dg: ModelDigest, minEvents: number): void {
    const c = this.config;
    if (view.mix.total < minEvents || dg.width < 2 || !dg.classes) return;
    const bal = balanceTest(view.mix, dg.classes, dg.width, c.minImbalance);
    // A mix less even than the model's is not balanced, whatever the likelihood ratio says (see `Balance.evenness`).
    view.balance = bal && bal.evenness > 0 ? bal.b : 0;
    view.balanceZ = bal && bal.evenness > 0 ? bal.z : 0;
    view.balanceScore = bal ? balanceScore(bal, c) : 0;
  }

  private sentence(e: EntityRead, comp: Component, aligned: boolean): string {
    const { scope, subject } = groupOf(e.name);
    const what = scope === 'tenant' ? `tenant ${subject}` : scope === 'prefix' ? `network ${subject}` : `keys with alike query geometry (${subject})`;
    const detail = comp === 'balance' && e.view ? balanceDetail(e.view) : (e.detail?.[comp] ?? comp);
    return `${what}, ${e.keys} keys: ${detail}, score ${fmt(e.scores[comp])}${aligned ? '' : ` (this key is a bystander: x${fmt(this.config.bystanderFactor)})`}`;
  }
}

/** The group an entity name stands for: `tenant:<id>`, `prefix:<cidr>`, or a geometry group (named whole). */
function groupOf(name: string): { scope: 'tenant' | 'prefix' | 'geometry'; subject: string } {
  if (name.startsWith('tenant:')) return { scope: 'tenant', subject: name.slice('tenant:'.length) };
  if (name.startsWith('prefix:')) return { scope: 'prefix', subject: name.slice('prefix:'.length) };
  return { scope: 'geometry', subject: name };
}

function balanceDetail(view: EntityView): string {
  return `pooled classes come back near-uniform (balance ${fmt(view.balance)} on a 0 natural … 1 uniform scale over ${Math.round(view.mix.total)} answers)`;
}

/** A pooled contribution as a fact for the aggregate stage (copied: `x` and `dg` are reused per event). */
function factOf(entity: string, model: string, ts: number, x: Contribution, dg: ModelDigest): AggregateFact {
  const f: AggregateFact = { entity, model, key: x.key, ts, epoch: x.epoch, label: x.label, bucket: x.bucket, digest: { ...dg } };
  if (x.margin) f.margin = { ...x.margin };
  if (x.entropy) f.entropy = { ...x.entropy };
  if (x.halving !== undefined) f.halving = x.halving;
  if (x.d2 !== undefined) f.d2 = x.d2;
  return f;
}

/** An aggregate stage's reading as the per-key side weighs it (none while the entity is not scored). */
function readingOf(r: GroupReading | undefined): EntityRead | null {
  if (!r || r.keys === 0) return null;
  return { name: r.entity, view: null, keys: r.keys, scores: r.scores as Scores, detail: r.detail as Partial<Record<Component, string>> };
}

function noAlignment(): Record<Component, boolean> {
  return { margin: false, entropy: false, halving: false, occupancy: false, spread: false, balance: false };
}

/** Squared distance of a sketch from the model centre, or undefined while the centre is unknown. */
function squaredFromCentre(sketch: readonly number[], shape: ShapeBaseline): number | undefined {
  const centre = shape.center;
  if (!centre || centre.length !== sketch.length || sketch.length === 0) return undefined;
  let d2 = 0;
  for (let i = 0; i < sketch.length; i++) d2 += (sketch[i] - centre[i]) ** 2;
  return d2;
}

/** log2 of a view's RMS distance from the model centre over the model's RMS (0 when unknown). */
function spreadLog2(view: EntityView, dg: ModelDigest): number {
  if (view.spreadN === 0 || !(dg.rms > 0)) return 0;
  return Math.log2(Math.max(Math.sqrt(view.spread) / dg.rms, 1e-9));
}

export const aggregates: DetectorDefinition<AggregatesConfig, AggregatesState> = {
  name: 'aggregates',
  description: 'boundary, entropy and class-mix views pooled per tenant, per client network prefix and per group of keys with alike query geometry',
  configSchema: aggregatesConfigSchema,
  create: (config) => new AggregatesDetector(config),
};

/** Whether `name` is `geo:<model>:<group>` (the key's group name from its last query, kept rather than built again). */
function groupMatches(name: string, model: string, group: string): boolean {
  return name.length === 5 + model.length + group.length && name.endsWith(group) && name.startsWith(model, 4) && name.startsWith('geo:') && name[4 + model.length] === ':';
}
