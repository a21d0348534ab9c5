import { z } from 'zod';
import { bisectionSchema, bisectionScore, completedSearches, createBisectionState, observeQuery, type BisectionState } from './shared/BisectionTracker.ts';
import { eventTimeOrder, flatEvents, groupOffsets, modelLabel, perGroup, rowKernel } from './shared/batch.ts';
import { addToHistogram, advanceEpoch, createQuota, type EpochHistogram, type EpochQuota, takeQuota } from './shared/EpochHistogram.ts';
import { addToShare, createShare, type EwShare } from './shared/EwShare.ts';
import { either, fmt } from './shared/math.ts';
import { baselineOptions, createTailBaseline, inTail, mayFeedBaseline, TailCache, type Tail, tailBaselineSchema, tailBin } from './shared/TailBaseline.ts';
import { entityName } from './shared/entityName.ts';
import { addArrival, createGapStats, type GapStats, gapCv, machinePacedNote, pacingFields, pacingWeight } from './shared/GapStats.ts';
import { BatchStraightRuns, straightRunFields } from './shared/StraightRun.ts';
import { LocalTail, localTailSchema } from './shared/LocalTail.ts';
import { scorableProbs, tailShareEvidence, tailShareFields, tailShareScore, type TailShareWalk } from './shared/TailShare.ts';
import type { InferenceEvent } from '../src/contract.ts';
import type { Detector, DetectorContext, DetectorDefinition, DetectorOutput, KeyGroup } from './types.ts';
import { DOUBLE_ZERO } from '../src/state/doubleZero.ts';

export const boundaryProbingConfigSchema = z.object({
  /** The per-model baseline of top-1/top-2 margins, learned online from all keys. */
  baseline: tailBaselineSchema,
  /** A "small" margin lies below this quantile of the model's baseline margins… */
  marginQuantile: z.number().gt(0).lt(1).default(0.1),
  /** …clamped to [marginMin, marginMax] so that it always means close to a boundary. */
  marginMin: z.number().min(0).max(1).default(0.02),
  marginMax: z.number().min(0).max(1).default(0.3),
  /** Window, minimum answers and score ramps of the key's small-margin share. */
  ...tailShareFields,
  /**
   * Each answer's expected chance of a small margin is the share the model's traffic gets near its query
   * (`LocalTail`, from the model's shared reference), not the model-wide share: people whose questions fall
   * where the model hesitates are not margin samplers.
   */
  local: localTailSchema,
  /**
   * An answer whose query continues the key's previous step in a straight line (the test `entropy` and
   * `off-manifold` use) does not count toward the small-margin share: a what-if analyst sweeping one
   * feature crosses the boundary on the way without looking for it. Line searches halve and reverse their
   * steps, so the bisection tracker still sees them.
   */
  ...straightRunFields,
  bisection: bisectionSchema,
  /**
   * A machine-paced key's small-margin share is an extraction signature: its score, scaled by how
   * metronomic the key's calls are (`GapStats`, the test `off-manifold`'s `automated` uses), counts as
   * one. A script that keeps asking where the model hesitates, more often than the model's traffic in the
   * same places is answered so, is selecting its inputs by the answers: pool-based active learning
   * (ActiveThief; Chandrasekaran et al.'s uncertainty sampling). A person meets the same share whenever
   * their data sit near a boundary (a borderline case, a user from elsewhere under covariate shift), so
   * for people it stays an output statistic, which needs a second family to reach truncate.
   */
  automated: z
    .object({
      enabled: z.boolean().default(true),
      ...pacingFields,
    })
    .strict()
    .prefault({}),
});
export type BoundaryProbingConfig = z.output<typeof boundaryProbingConfigSchema>;

/**
 * Per-key state. Ceiling: the share, the quota and the gaps are 13 numbers; the
 * bisection tracker holds 1 + 2 × maxChains sketches of `d` floats (≤ 13 JSON
 * bytes each, 7 significant digits) and the straight run two Float32Array
 * prefixes of `straightDim` (32 bytes each at 8), so with 16-wide sketches
 * and 3 chains it stays under 2 kB as a snapshot section whatever the key's
 * history.
 */
export interface BoundaryProbingState {
  margin: EwShare;
  quota: EpochQuota;
  bisection: BisectionState;
  /** The straight run (`StraightRunState`: the last sketch prefix and its step in one vector, null when none); older snapshots hold `last` and `step` apart instead. */
  run?: Float32Array | null;
  last?: Float32Array | string | null;
  step?: Float32Array | string | null;
  /** Score after the key's last event (a flagged key stops feeding the baseline). */
  score: number;
  /** The key's inter-arrival gaps (the `automated` test); absent in older snapshots. */
  gaps?: GapStats;
}

/** What `step` reads and writes of one batch (see `BatchWalk`, `TailShareWalk`). */
interface ProbingWalk extends TailShareWalk<BoundaryProbingState, LastView> {
  margins: Float64Array;
  baselines: Map<string, EpochHistogram>;
}

interface LastView {
  tail: Tail | null;
  /** Whether the answer was judged against the model's traffic near it (the local reference was ready). */
  local: boolean;
  model: string;
  marginScore: number;
  searchScore: number;
  /** The small-margin score scaled by the key's pacing (the `automated` signature), and the gaps' CV then. */
  pacedScore: number;
  cv: number;
  /** What the evidence quotes of the key's state as of this event (copies: the state moves on). */
  margin: EwShare;
  /** Line searches completed and the longest one's halvings, when the line-search test scores. */
  searches: number;
  longest: number;
}

/**
 * Boundary probing: queries placed where the model hesitates.
 *
 * 1. The share of a key's answers whose top-1/top-2 margin is small, against
 *    the share the same model's traffic gets. Margin (uncertainty) sampling
 *    is how active-learning extraction picks its queries — Chandrasekaran et al.,
 *    "Exploring Connections Between Active Learning and Model Extraction",
 *    USENIX Security 2020; Pal et al., "ActiveThief", AAAI 2020 — and
 *    Papernot et al.'s Jacobian augmentation (AsiaCCS 2017) and CloudLeak
 *    (Yu et al., NDSS 2020) push synthetic queries toward the boundary.
 *    "Small" is below a robust quantile of a model-wide margin histogram to
 *    which each key adds at most `perKeyEpochCap` samples per epoch, flagged
 *    keys add none, and which moves by a slow EWMA between frozen epochs, so
 *    an attacker cannot drag it along. Each answer's expected chance of a
 *    small margin is the share the model's traffic gets near its query
 *    (`LocalTail`; the model-wide share far from all traffic), so a
 *    person whose topic is ambiguous is not taken for a margin sampler.
 * 2. Line searches on the sketches (Lowd & Meek, KDD 2005): see
 *    `BisectionTracker`.
 */
export class BoundaryProbingDetector implements Detector<BoundaryProbingState> {
  readonly name = 'boundary-probing';
  readonly family = 'output' as const;
  /** Expected small-margin shares near each query, from the model's shared reference. */
  private readonly local: LocalTail;

  constructor(private readonly config: BoundaryProbingConfig) {
    this.local = new LocalTail(config.local);
  }

  initState(): BoundaryProbingState {
    // Every field from the start, in one order: one shape for every key. `last` and `step` as `BatchStraightRuns` writes them.
    return { margin: createShare(), quota: createQuota(), bisection: createBisectionState(), run: null, score: DOUBLE_ZERO, gaps: undefined };
  }

  processBatch(groups: readonly KeyGroup<BoundaryProbingState>[], ctx: DetectorContext): DetectorOutput[] {
    const c = this.config;
    const opts = baselineOptions(c.baseline);
    const { offsets } = groupOffsets(groups);
    const margins = rowKernel(
      flatEvents(groups).map(scorableProbs),
      (m, w) => ctx.compute.topMargin(m, w),
    );
    const scores = perGroup(groups, (g) => new Float64Array(g.events.length));
    // The line search is the extraction signature; a high small-margin share alone is an output statistic.
    const signature = perGroup(groups, (g) => new Float64Array(g.events.length));
    // Each event's view, for the evidence as of that event (not as of the batch's end).
    const views = perGroup(groups, (g) => new Array<LastView>(g.events.length));

    const walk: ProbingWalk = {
      groups,
      ctx,
      opts,
      offsets,
      margins,
      scores,
      signature,
      views,
      tails: new TailCache(),
      baselines: new Map(),
      owners: Uint32Array.from(groups, (grp) => LocalTail.owner(grp.key)),
      refs: new Map(),
    };
    const runs = new BatchStraightRuns(perGroup(groups, (grp) => grp.state), c, perGroup(groups, (grp) => grp.events));
    // One `step` call per event (see `BatchWalk`).
    const order = eventTimeOrder(groups);
    for (let o = 0; o < order.length; o++) this.step(walk, runs, order[o].g, order[o].i, order[o].e);
    runs.save();
    return groups.map((grp, g) => {
      const explain = (i: number) => this.evidence(views[g][i]);
      return { scores: scores[g], signature: signature[g], evidence: grp.events.length ? explain(grp.events.length - 1) : [], explain };
    });
  }

  /** One event of the batch, in event time across keys (`processBatch`'s step). */
  private step(w: ProbingWalk, runs: BatchStraightRuns, g: number, i: number, e: InferenceEvent): void {
    const c = this.config;
    const { ctx, opts, baselines, refs, tails } = w;
    const state = w.groups[g].state;
    let baseline = baselines.get(e.model_id);
    if (!baseline) baselines.set(e.model_id, (baseline = ctx.aggregate<EpochHistogram>(entityName('model:', e.model_id), () => createTailBaseline(c.baseline))));
    advanceEpoch(baseline, e.ts, opts);
    let ref = refs.get(e.model_id);
    if (ref === undefined) refs.set(e.model_id, (ref = ctx.reference(e.model_id)));
    const tail = tails.get(baseline, c.baseline, 'low', c.marginQuantile, c.marginMin, c.marginMax);
    const margin = w.margins[w.offsets[g] + i];
    const straight = runs.continues(g, e.input_sketch);
    if (Number.isFinite(margin)) {
      if (tail && !straight) {
        const expected = this.local.expected(ref, this.local.neighbours(ref, e.input_sketch, w.owners[g]), 'margin', tail, 'low');
        addToShare(state.margin, inTail(margin, tail, 'low'), expected, c.window);
      }
      if (mayFeedBaseline(tail, state.margin, c.window, state.score, c.baseline) && takeQuota(state.quota, e.ts, c.baseline.epochMs, c.baseline.perKeyEpochCap)) {
        addToHistogram(baseline, tailBin(margin, c.baseline));
      }
    }
    observeQuery(state.bisection, e.input_sketch, modelLabel(e), e.ts, c.bisection);
    if (c.automated.enabled) addArrival((state.gaps ??= createGapStats()), e.ts, c.automated.gapWindow);
    const marginScore = tailShareScore(state.margin, c);
    const searchScore = bisectionScore(state.bisection, e.ts, c.bisection);
    const pacedScore = c.automated.enabled && marginScore > 0 ? marginScore * pacingWeight(state.gaps, c.automated) : 0;
    state.score = either(marginScore, searchScore);
    w.scores[g][i] = state.score;
    w.signature[g][i] = Math.max(searchScore, pacedScore);
    const searches = searchScore > 0 ? completedSearches(state.bisection, e.ts, c.bisection) : 0;
    const cv = pacedScore > 0 && state.gaps ? gapCv(state.gaps) : NaN;
    w.views[g][i] = { tail, local: this.local.active(ref), model: e.model_id, marginScore, searchScore, pacedScore, cv, margin: { ...state.margin }, searches, longest: state.bisection.longest };
  }

  private evidence(v: LastView): string[] {
    const c = this.config;
    const out: string[] = [];
    if (v.marginScore > 0 && v.tail) {
      const paced = v.pacedScore > 0 ? `, ${machinePacedNote(v.cv)}` : '';
      out.push(tailShareEvidence(v.margin, c, `had a top-1/top-2 margin < ${fmt(v.tail.threshold)}`, v.model, v.local) + paced);
    }
    if (v.searchScore > 0) {
      out.push(`${fmt(v.searches, 1)} line searches (steps halving ${c.bisection.minSteps}+ times across a label flip; longest ${v.longest} halvings)`);
    }
    return out;
  }
}

export const boundaryProbing: DetectorDefinition<BoundaryProbingConfig, BoundaryProbingState> = {
  name: 'boundary-probing',
  description: 'share of small top-1/top-2 margins against the model baseline, and bisection line searches across a label flip',
  configSchema: boundaryProbingConfigSchema,
  create: (config) => new BoundaryProbingDetector(config),
};
