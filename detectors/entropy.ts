import { z } from 'zod';
import { eventTimeOrder, flatEvents, groupOffsets, modelProbs, perGroup, rowKernel, usableAnswer } from './shared/batch.ts';
import { addDistinct, createDistinctSketch, type DistinctSketch, distinctRatio } from './shared/DistinctSketch.ts';
import { addToHistogram, advanceEpoch, createHistogram, createQuota, type EpochHistogram, type EpochQuota, histogramReady, takeQuota } from './shared/EpochHistogram.ts';
import { addToShare, createShare, type EwShare } from './shared/EwShare.ts';
import { addArrival, createGapStats, type GapStats, gapCv, type PacingConfig, pacingWeight, typicalGapMs } from './shared/GapStats.ts';
import { fmt, pct, ramp } from './shared/math.ts';
import {
  addMoments,
  addToRing,
  advanceMoments,
  type BucketRing,
  bucketOf,
  createMoments,
  createRing,
  expectedDistinct,
  project,
  type ProjectionMoments,
  ringDistinct,
  sketchBucketsSchema,
} from './shared/SketchBuckets.ts';
import { baselineOptions, inTail, mayFeedBaseline, TailCache, type Tail, tailBaselineSchema, tailBin } from './shared/TailBaseline.ts';
import { entityName } from './shared/entityName.ts';
import { LocalTail, localTailSchema } from './shared/LocalTail.ts';
import { BatchStraightRuns, straightRunFields } from './shared/StraightRun.ts';
import { scorableProbs, tailShareEvidence, tailShareFields, tailShareScore, type TailShareWalk } from './shared/TailShare.ts';
import type { InferenceEvent } from '../src/contract.ts';
import type { Detector, DetectorContext, DetectorDefinition, DetectorOutput, KeyGroup } from './types.ts';
import { DOUBLE_ZERO } from '../src/state/doubleZero.ts';

export const entropyConfigSchema = z.object({
  /** Per-model baselines (answer entropy, sketch moments, bucket mix), learned online from all keys. */
  baseline: tailBaselineSchema,
  /** "High entropy" is the top `entropyQuantile` of the model's baseline normalised entropies… */
  entropyQuantile: z.number().gt(0).lt(1).default(0.1),
  /** …with the threshold clamped to [entropyMin, entropyMax]. */
  entropyMin: z.number().min(0).max(1).default(0.05),
  entropyMax: z.number().min(0).max(1).default(0.98),
  /** Window, minimum answers and score ramps of the high-entropy share. */
  ...tailShareFields,
  /**
   * Each answer's expected chance of a high entropy is the share the model's traffic gets near its query
   * (`LocalTail`, from the model's shared reference), not the model-wide share: people whose questions fall
   * where the model is unsure are not uncertainty samplers.
   */
  local: localTailSchema,
  /**
   * An answer whose query continues the key's previous step in a straight line — the same direction and
   * sense (cos ≥ `straightCos` between the two steps over the first `straightDim` sketch coordinates) and
   * about the same length (ratio within `straightRatio`) — does not count toward the high-entropy share:
   * a what-if analyst sweeping one feature of a real record in even steps crosses a class boundary on the
   * way and gets uncertain answers there without looking for them. The same test as `off-manifold`'s;
   * straight runs are `grid-sweep`'s business. Uncertainty sampling picks its queries from a pool
   * (ActiveThief) and a line search halves and reverses its steps (Lowd–Meek), so neither is a sweep.
   */
  ...straightRunFields,
  /** Locality-sensitive buckets of the sketches. */
  buckets: sketchBucketsSchema,
  /** The key's last `ringSize` buckets are compared, once it has `minRing`, with the occupancy the model's traffic would give. */
  ringSize: z.number().int().positive().max(1024).default(128),
  minRing: z.number().int().positive().default(64),
  /** Distinct buckets over the expected count where the diversity score starts and is full. */
  occupancyLow: z.number().positive().default(1.25),
  occupancyHigh: z.number().positive().default(1.8),
  /** KMV size of the exact-hash distinct counter. */
  distinctK: z.number().int().min(8).max(1024).default(48),
  /** Diversity counts only for keys that rarely repeat an exact input: scaled by a ramp of the distinct share. */
  repeatRatioLow: z.number().min(0).max(1).default(0.5),
  repeatRatioHigh: z.number().min(0).max(1).default(0.8),
  /** Inter-arrival gaps: EWMA window, gaps needed, and the CVs of a metronome and of a person (`gapCv`: read from the gaps' log spread). */
  gapWindow: z.number().int().positive().default(64),
  minGaps: z.number().int().positive().default(30),
  cvMetronomic: z.number().min(0).default(0.15),
  cvHuman: z.number().min(0).default(0.6),
  /** Regularity amplifies the other evidence by up to this factor, and alone scores at most this. */
  regularityBoost: z.number().min(0).default(0.5),
  regularityAloneScore: z.number().min(0).max(1).default(0.1),
});
export type EntropyConfig = z.output<typeof entropyConfigSchema>;

/**
 * Per-key state. Ceiling: 15 numbers of shares, quotas and gaps, a ring of
 * `ringSize` bucket ids (2 bytes each once full), `distinctK` hash prefixes
 * (≤ 11 bytes each) and the last sketch prefix and step (2 × `straightDim`
 * float32, 64 bytes at the defaults): under 1.5 kB as a snapshot section
 * whatever the key's history.
 */
export interface EntropyState {
  high: EwShare;
  quota: EpochQuota;
  ring: BucketRing;
  distinct: DistinctSketch;
  gaps: GapStats;
  score: number;
  /** The straight run (`StraightRunState`: the last sketch prefix and its step in one vector, null when none); absent in state written before it existed; older snapshots hold `last` and `step` apart instead. */
  run?: Float32Array | null;
  last?: Float32Array | string | null;
  step?: Float32Array | string | null;
}

interface ModelEntropy {
  entropy: EpochHistogram;
  moments: ProjectionMoments;
  buckets: EpochHistogram;
}

/** What `step` reads and writes of one batch (see `BatchWalk`, `TailShareWalk`). */
interface EntropyWalk extends TailShareWalk<EntropyState, LastView> {
  nats: Float64Array;
  models: Map<string, ModelEntropy>;
  runs: BatchStraightRuns;
}

interface LastView {
  model: string;
  tail: Tail | null;
  /** Whether the answer was judged against the model's traffic near it (the local reference was ready). */
  local: boolean;
  tailScore: number;
  occupancy: { distinct: number; expected: number } | null;
  diversity: number;
  regularity: number;
  repeats: number;
  /** What the evidence quotes of the key's state as of this event (copies: the state moves on). */
  high: EwShare;
  ringN: number;
  distinctN: number;
  gaps: { cv: number; n: number; typicalMs: number };
}

/**
 * Entropy of a key's traffic, three ways:
 *
 * 1. Answer entropy: the share of the key's answers in the top tail of the
 *    model's normalised predictive entropy. Uncertainty sampling is the
 *    query strategy of active-learning extraction (Pal et al., "ActiveThief",
 *    AAAI 2020; Chandrasekaran et al., USENIX Security 2020), and Kesarwani
 *    et al., "Model Extraction Warning in MLaaS Paradigm", ACSAC 2018, watch
 *    the information a user's queries gain. Each answer's expected chance of
 *    a high entropy is the share the model's traffic gets near its query
 *    (`LocalTail`; the model-wide share far from all traffic).
 * 2. Input diversity: exact input hashes (a KMV distinct counter: extraction
 *    never repeats an input) and locality-sensitive buckets of the sketches
 *    (`SketchBuckets`): a key occupying far more buckets than n draws of the
 *    model's own traffic would is spreading its queries over the input space
 *    (the coverage PRADA and Knockoff Nets transfer sets aim for).
 * 3. Regularity: the coefficient of variation of inter-arrival gaps. Scripts
 *    are metronomic, people are bursty; regularity alone is weak (batch jobs
 *    are scripts too), so it only amplifies the other two.
 */
export class EntropyDetector implements Detector<EntropyState> {
  readonly name = 'entropy';
  readonly family = 'output' as const;
  /** Expected high-entropy shares near each query, from the model's shared reference. */
  private readonly local: LocalTail;
  /** Scratch for a query's LSH projections (read within the query's step only). */
  private readonly projection: number[] = [];
  /**
   * Expected distinct buckets per reference and ring length, kept across polls (as aggregates does): a
   * reference is replaced by a new array when an epoch is folded in, never changed in place.
   */
  private readonly expectedCache = new WeakMap<number[], Map<number, number>>();

  /** Regularity is the shared pacing weight, judged at the gaps' CV as estimated (no standard errors added). */
  private readonly pacing: PacingConfig;

  constructor(private readonly config: EntropyConfig) {
    this.local = new LocalTail(config.local);
    this.pacing = { gapWindow: config.gapWindow, minGaps: config.minGaps, paceZ: 0, cvMetronomic: config.cvMetronomic, cvHuman: config.cvHuman };
  }

  initState(): EntropyState {
    return { high: createShare(), quota: createQuota(), ring: createRing(), distinct: createDistinctSketch(), gaps: createGapStats(), score: DOUBLE_ZERO, run: null };
  }

  processBatch(groups: readonly KeyGroup<EntropyState>[], ctx: DetectorContext): DetectorOutput[] {
    const c = this.config;
    const opts = baselineOptions(c.baseline);
    const { offsets } = groupOffsets(groups);
    const events = flatEvents(groups);
    const nats = rowKernel(
      events.map(scorableProbs),
      (m, w) => ctx.compute.rowEntropy(m, w),
    );
    const scores = perGroup(groups, (g) => new Float64Array(g.events.length));
    // Input diversity is an extraction signature: spreading queries over far more of the input space than the
    // model's own traffic covers is how transfer sets and equation-solving samples are drawn. Answer entropy is
    // an output statistic only, even from a script: its tail is the model's top entropies, which a scripted
    // stratified evaluation set's minority-class records reach as often as uncertainty sampling does where the
    // classes are imbalanced (boundary-probing's small margins, at most `marginMax` wide, are the paced signature).
    const signature = perGroup(groups, (g) => new Float64Array(g.events.length));
    // Each event's view, for the evidence as of that event (not as of the batch's end).
    const views = perGroup(groups, (g) => new Array<LastView>(g.events.length));

    const walk: EntropyWalk = {
      groups,
      ctx,
      opts,
      offsets,
      nats,
      scores,
      signature,
      views,
      tails: new TailCache(),
      models: new Map(),
      owners: Uint32Array.from(groups, (grp) => LocalTail.owner(grp.key)),
      refs: new Map(),
      runs: new BatchStraightRuns(perGroup(groups, (grp) => grp.state), c, perGroup(groups, (grp) => grp.events)),
    };
    // One `step` call per event (see `BatchWalk`).
    const order = eventTimeOrder(groups);
    for (let o = 0; o < order.length; o++) this.step(walk, order[o].g, order[o].i, order[o].e);
    walk.runs.save();
    return groups.map((grp, g) => {
      const explain = (i: number) => (scores[g][i] > 0 ? this.evidence(views[g][i]) : []);
      return { scores: scores[g], signature: signature[g], evidence: grp.events.length ? explain(grp.events.length - 1) : [], explain };
    });
  }

  /** One event of the batch, in event time across keys (`processBatch`'s step). */
  private step(w: EntropyWalk, g: number, i: number, e: InferenceEvent): void {
    const c = this.config;
    const state = w.groups[g].state;
    let model = w.models.get(e.model_id);
    if (!model) {
      model = w.ctx.aggregate<ModelEntropy>(entityName('model:', e.model_id), () => ({
        entropy: createHistogram(c.baseline.bins),
        moments: createMoments(c.buckets.projections),
        buckets: createHistogram(c.buckets.buckets),
      }));
      w.models.set(e.model_id, model);
    }
    advanceEpoch(model.entropy, e.ts, w.opts);
    advanceMoments(model.moments, e.ts, w.opts);
    advanceEpoch(model.buckets, e.ts, w.opts);
    let ref = w.refs.get(e.model_id);
    if (ref === undefined) w.refs.set(e.model_id, (ref = w.ctx.reference(e.model_id)));
    const tail = w.tails.get(model.entropy, c.baseline, 'high', c.entropyQuantile, c.entropyMin, c.entropyMax);
    const contributes = mayFeedBaseline(tail, state.high, c.window, state.score, c.baseline) && takeQuota(state.quota, e.ts, c.baseline.epochMs, c.baseline.perKeyEpochCap);
    const row = w.offsets[g] + i;
    const straight = w.runs.continues(g, e.input_sketch);
    const h = w.nats[row] / Math.log(modelProbs(e).length);
    if (Number.isFinite(h)) {
      if (tail && !straight) {
        const expected = this.local.expected(ref, this.local.neighbours(ref, e.input_sketch, w.owners[g]), 'entropy', tail, 'high');
        addToShare(state.high, inTail(h, tail, 'high'), expected, c.window);
      }
      if (contributes && usableAnswer(e)) addToHistogram(model.entropy, tailBin(h, c.baseline));
    }

    if (e.input_sketch.length > 0) {
      const proj = project(e.input_sketch, c.buckets, this.projection);
      if (contributes) addMoments(model.moments, proj);
      const bucket = bucketOf(proj, e.input_sketch.length, model.moments, c.buckets);
      if (bucket >= 0) {
        addToRing(state.ring, bucket, c.ringSize);
        if (contributes) addToHistogram(model.buckets, bucket);
      }
    }
    addDistinct(state.distinct, e.input_hash, c.distinctK);
    addArrival(state.gaps, e.ts, c.gapWindow);

    const view = this.view(state, model, this.expectedCache, tail, e.model_id, this.local.active(ref));
    const base = Math.max(view.tailScore, view.diversity);
    state.score = Math.max(Math.min(1, base * (1 + c.regularityBoost * view.regularity)), c.regularityAloneScore * view.regularity);
    w.scores[g][i] = state.score;
    w.signature[g][i] = view.diversity;
    w.views[g][i] = view;
  }

  private view(state: EntropyState, model: ModelEntropy, cache: WeakMap<number[], Map<number, number>>, tail: Tail | null, modelId: string, local: boolean): LastView {
    const c = this.config;
    const tailScore = tailShareScore(state.high, c);
    const repeats = distinctRatio(state.distinct, c.distinctK);
    let occupancy: LastView['occupancy'] = null;
    let diversity = 0;
    const n = state.ring.ring.length;
    if (n >= c.minRing && histogramReady(model.buckets, c.baseline.minReferenceSamples)) {
      let byN = cache.get(model.buckets.ref);
      if (!byN) cache.set(model.buckets.ref, (byN = new Map()));
      let expected = byN.get(n);
      if (expected === undefined) byN.set(n, (expected = expectedDistinct(model.buckets.ref, n)));
      occupancy = { distinct: ringDistinct(state.ring), expected };
      diversity = ramp(occupancy.distinct / expected, c.occupancyLow, c.occupancyHigh) * ramp(repeats, c.repeatRatioLow, c.repeatRatioHigh);
    }
    const regularity = pacingWeight(state.gaps, this.pacing);
    const high = { ...state.high };
    const gaps = { cv: gapCv(state.gaps), n: state.gaps.n, typicalMs: typicalGapMs(state.gaps) };
    return { model: modelId, tail, local, tailScore, occupancy, diversity, regularity, repeats, high, ringN: n, distinctN: state.distinct.n, gaps };
  }

  private evidence(v: LastView): string[] {
    const c = this.config;
    const out: string[] = [];
    if (v.tailScore > 0 && v.tail) {
      out.push(tailShareEvidence(v.high, c, `had normalised entropy > ${fmt(v.tail.threshold)}`, v.model, v.local));
    }
    if (v.diversity > 0 && v.occupancy) {
      out.push(
        `last ${v.ringN} queries fell in ${v.occupancy.distinct} input buckets, ${fmt(v.occupancy.distinct / v.occupancy.expected, 1)}x the ` +
          `${fmt(v.occupancy.expected, 0)} expected from model ${v.model}'s traffic; ${pct(v.repeats)} of ${v.distinctN} inputs distinct`,
      );
    }
    if (v.regularity > 0) {
      out.push(`inter-arrival CV ${fmt(v.gaps.cv)} (from the gaps' log spread) over ${v.gaps.n} gaps (typically ${fmt(v.gaps.typicalMs / 1000, 2)} s): machine-regular`);
    }
    return out;
  }
}

export const entropy: DetectorDefinition<EntropyConfig, EntropyState> = {
  name: 'entropy',
  description: 'answer entropy against the model baseline, diversity of exact and locality-sensitive input buckets, regularity of arrivals',
  configSchema: entropyConfigSchema,
  create: (config) => new EntropyDetector(config),
};
