import { z } from 'zod';
import { eventTimeOrder, modelLabel, modelProbs, pairKernel, perGroup, usableAnswer } from './shared/batch.ts';
import { addClass, type Balance, balanceFields, balanceScore, balanceTest, type ClassMix, classIndex, createClassMix, smoothedMix } from './shared/ClassMix.ts';
import { addDistinct, createDistinctSketch, type DistinctSketch, distinctRatio } from './shared/DistinctSketch.ts';
import { addToHistogram, advanceEpoch, createHistogram, createQuota, type EpochHistogram, type EpochQuota, histogramReady, takeQuota, unitBin, unitQuantile } from './shared/EpochHistogram.ts';
import { compact, either, fmt, ramp } from './shared/math.ts';
import { baselineOptions, tailBaselineSchema } from './shared/TailBaseline.ts';
import { entityName } from './shared/entityName.ts';
import type { Detector, DetectorContext, DetectorDefinition, DetectorOutput, KeyGroup } from './types.ts';
import { DOUBLE_ZERO } from '../src/state/doubleZero.ts';

const LN2 = Math.log(2);

export const outputDriftConfigSchema = z.object({
  /** Per-model baselines (class mix, per-key divergences), learned online from all keys. */
  baseline: tailBaselineSchema,
  /** Classes tracked per model; labels above are folded (bounds the state). */
  maxClasses: z.number().int().min(2).max(1024).default(64),
  /** Effective horizon (answers) of a key's class mix, and answers it needs before it is judged. */
  window: z.number().int().positive().default(400),
  minEvents: z.number().int().positive().default(100),
  /** Dirichlet pseudo-counts pulling a key's mix toward the model's. */
  priorStrength: z.number().min(0).default(20),
  /** JSD (in bits, [0,1]) where the divergence score starts: at least this, and at least `jsdBaselineFactor` × the `jsdQuantile` of keys' JSDs. */
  jsdLow: z.number().min(0).max(1).default(0.05),
  jsdQuantile: z.number().gt(0).lt(1).default(0.95),
  jsdBaselineFactor: z.number().min(0).default(1.5),
  /** JSD above the start where the score is full, and the most divergence alone can give (keys of narrow use diverge too). */
  jsdSpan: z.number().positive().default(0.2),
  jsdMaxScore: z.number().min(0).max(1).default(0.45),
  /** Balanced coverage of the key's mix (see `balanceTest`, `balanceFields`). */
  ...balanceFields,
  /** KMV size of the exact-hash distinct counter; keys repeating inputs (a fixed test set) are damped. */
  distinctK: z.number().int().min(8).max(1024).default(64),
  repeatRatioLow: z.number().min(0).max(1).default(0.5),
  repeatRatioHigh: z.number().min(0).max(1).default(0.8),
  /** Drift of the model's whole output mix between epochs (JSD in bits) where its score starts and is full… */
  driftLow: z.number().min(0).max(1).default(0.02),
  driftHigh: z.number().min(0).max(1).default(0.1),
  /** …and the share of it every key of the model carries (it barely moves one key, by design). */
  driftKeyWeight: z.number().min(0).max(1).default(0.1),
});
export type OutputDriftConfig = z.output<typeof outputDriftConfigSchema>;

/**
 * Per-key state. Ceiling: the class mix holds ≤ `maxClasses` counts (≤ 9
 * JSON bytes each), the KMV `distinctK` prefixes (≤ 11 bytes each), plus 7
 * numbers: with 10 classes and the defaults under 1 kB of JSON.
 */
export interface OutputDriftState {
  mix: ClassMix;
  distinct: DistinctSketch;
  quota: EpochQuota;
  jsdQuota: EpochQuota;
  score: number;
}

interface ModelDrift {
  classes: EpochHistogram;
  /** Classes seen (row width). */
  width: number;
  /** Per-key JSDs (bits), one vote per key per epoch. */
  keyJsd: EpochHistogram;
  /** The last epoch-to-epoch drift of the model's output mix. */
  drift: { jsd: number; epoch: number; samples: number } | null;
  /** The last completed epoch's own mix: a key that answers like the current crowd is not singled out. */
  recent: number[] | null;
}

interface Pending {
  /** JSD rows against the slow baseline and, once there is one, the last epoch's mix (−1 while there is none). */
  jsdSlow: number;
  jsdRecent: number;
  /** Balance of the key's mix against each of them. */
  balanceSlow: Balance | null;
  balanceRecent: Balance | null;
  repeats: number;
  n: number;
}

interface LastView {
  model: string;
  jsd: number;
  jsdStart: number;
  jsdScore: number;
  balance: number;
  balanceZ: number;
  balanceScore: number;
  repeats: number;
  n: number;
  drift: ModelDrift['drift'];
  driftScore: number;
}

/**
 * Output drift: what a key gets back, against what the model's traffic gets.
 *
 * 1. Jensen–Shannon divergence (Lin, IEEE Trans. Inf. Theory 1991) between
 *    the key's predicted-class mix (Dirichlet-smoothed) and the model's,
 *    judged against the spread of all keys' divergences.
 * 2. Unusually balanced coverage of the classes: adaptive transfer-set
 *    sampling (Orekondy et al., "Knockoff Nets", CVPR 2019) rewards queries
 *    of classes it has seen least, so its answers come back near-uniform
 *    even where real traffic is skewed. Damped for keys that repeat exact
 *    inputs (an evaluation job replaying a balanced test set).
 * 3. Drift of the model's whole output mix from one epoch to the next, the
 *    windowed global view (what a coordinated campaign or a data shift does);
 *    reported on every key of the model, but weighs little on any one.
 */
export class OutputDriftDetector implements Detector<OutputDriftState> {
  readonly name = 'output-drift';
  readonly family = 'output' as const;
  constructor(private readonly config: OutputDriftConfig) {}

  initState(): OutputDriftState {
    return { mix: createClassMix(), distinct: createDistinctSketch(), quota: createQuota(), jsdQuota: createQuota(), score: DOUBLE_ZERO };
  }

  processBatch(groups: readonly KeyGroup<OutputDriftState>[], ctx: DetectorContext): DetectorOutput[] {
    const c = this.config;
    const opts = baselineOptions(c.baseline);
    const order = eventTimeOrder(groups);
    const models = new Map<string, ModelDrift>();
    const model = (id: string) => {
      let m = models.get(id);
      if (!m) {
        m = ctx.aggregate<ModelDrift>(entityName('model:', id), () => ({ classes: createHistogram(c.maxClasses), width: 0, keyJsd: createHistogram(c.baseline.bins), drift: null, recent: null }));
        models.set(id, m);
      }
      return m;
    };

    const renorm = new Renormalized();

    // Pass 1, event time: class mixes and the model reference; the rows to divide.
    const pairs: { p: number[]; q: number[] }[] = [];
    const pending: (Pending | null)[] = new Array(order.length).fill(null);
    const driftAt = new Map<number, { row: number; epoch: number; samples: number }>();
    order.forEach(({ g, e }, k) => {
      const state = groups[g].state;
      const m = model(e.model_id);
      const roll = advanceEpoch(m.classes, e.ts, opts);
      if (roll?.previousRef && m.width >= 2) {
        driftAt.set(k, { row: pairs.length, epoch: m.classes.epoch - 1, samples: roll.samples });
        pairs.push({ p: roll.epochDist.slice(0, m.width), q: roll.previousRef.slice(0, m.width) });
      }
      if (roll) m.recent = roll.epochDist.map(compact);
      const answered = modelLabel(e);
      if (answered < 0) return;
      const label = classIndex(answered, c.maxClasses);
      m.width = Math.min(c.maxClasses, Math.max(m.width, label + 1, modelProbs(e).length));
      addClass(state.mix, answered, c.window, c.maxClasses);
      addDistinct(state.distinct, e.input_hash, c.distinctK);
      if (usableAnswer(e) && takeQuota(state.quota, e.ts, c.baseline.epochMs, c.baseline.perKeyEpochCap)) addToHistogram(m.classes, label);
      if (state.mix.total < c.minEvents || !histogramReady(m.classes, c.baseline.minReferenceSamples) || m.width < 2) return;
      const slow = renorm.get(m.classes.ref, m.width);
      const recent = m.recent ? renorm.get(m.recent, m.width) : null;
      // The key's mix is shrunk toward the reference it is compared with (shrinking toward another would blend two mixes).
      const jsdSlow = pairs.push({ p: smoothedMix(state.mix, slow, c.priorStrength, m.width), q: slow }) - 1;
      const jsdRecent = recent ? pairs.push({ p: smoothedMix(state.mix, recent, c.priorStrength, m.width), q: recent }) - 1 : -1;
      pending[k] = {
        jsdSlow,
        jsdRecent,
        balanceSlow: balanceTest(state.mix, slow, m.width, c.minImbalance),
        balanceRecent: recent ? balanceTest(state.mix, recent, m.width, c.minImbalance) : null,
        repeats: distinctRatio(state.distinct, c.distinctK),
        n: state.mix.total,
      };
    });
    const jsd = pairKernel(ctx.compute, pairs);

    // Pass 2, same order: scores, the per-key divergence baseline, the global drift.
    const scores = perGroup(groups, (grp) => new Float64Array(grp.events.length));
    // Each event's view, for the evidence as of that event (not as of the batch's end).
    const views = perGroup(groups, (grp) => new Array<LastView>(grp.events.length));
    order.forEach(({ g, i, e }, k) => {
      const state = groups[g].state;
      const m = model(e.model_id);
      advanceEpoch(m.keyJsd, e.ts, opts);
      const rolled = driftAt.get(k);
      if (rolled) m.drift = { jsd: Math.max(0, jsd[rolled.row]) / LN2, epoch: rolled.epoch, samples: rolled.samples };
      const epoch = Math.floor(e.ts / c.baseline.epochMs);
      const recentDrift = m.drift && m.drift.epoch >= epoch - 1 ? m.drift : null;
      const driftScore = recentDrift ? ramp(recentDrift.jsd, c.driftLow, c.driftHigh) : 0;
      const view: LastView = { model: e.model_id, jsd: DOUBLE_ZERO, jsdStart: DOUBLE_ZERO, jsdScore: DOUBLE_ZERO, balance: DOUBLE_ZERO, balanceZ: DOUBLE_ZERO, balanceScore: DOUBLE_ZERO, repeats: 1 + DOUBLE_ZERO, n: state.mix.total, drift: recentDrift, driftScore: driftScore + DOUBLE_ZERO };
      const pend = pending[k];
      if (pend) {
        // Judged against the slow baseline and against the last epoch's mix: the less suspicious reading counts.
        const jsdSlow = Math.max(0, jsd[pend.jsdSlow]) / LN2;
        view.jsd = pend.jsdRecent < 0 ? jsdSlow : Math.min(jsdSlow, Math.max(0, jsd[pend.jsdRecent]) / LN2);
        const keysQ = histogramReady(m.keyJsd, c.baseline.minEpochSamples) ? unitQuantile(m.keyJsd.ref, c.jsdQuantile) : 0;
        view.jsdStart = Math.max(c.jsdLow, c.jsdBaselineFactor * keysQ);
        const damp = ramp(pend.repeats, c.repeatRatioLow, c.repeatRatioHigh);
        view.jsdScore = Math.min(c.jsdMaxScore, ramp(view.jsd, view.jsdStart, view.jsdStart + c.jsdSpan)) * damp;
        const { balanceSlow: slow, balanceRecent: recent } = pend;
        if (slow !== null && (pend.jsdRecent < 0 || recent !== null)) {
          const weakest = recent !== null && balanceScore(recent, c) < balanceScore(slow, c) ? recent : slow;
          view.balance = weakest.b;
          view.balanceZ = weakest.z;
          view.balanceScore = balanceScore(weakest, c) * damp;
        }
        view.repeats = pend.repeats;
        view.n = pend.n;
        if (state.score < c.baseline.excludeAboveScore && takeQuota(state.jsdQuota, e.ts, c.baseline.epochMs, 1)) {
          addToHistogram(m.keyJsd, unitBin(view.jsd, c.baseline.bins));
        }
      }
      state.score = Math.max(either(view.jsdScore, view.balanceScore), c.driftKeyWeight * driftScore);
      scores[g][i] = state.score;
      views[g][i] = view;
    });
    return groups.map((grp, g) => {
      const explain = (i: number) => (scores[g][i] > 0 ? this.evidence(views[g][i]) : []);
      return { scores: scores[g], evidence: grp.events.length ? explain(grp.events.length - 1) : [], explain };
    });
  }

  private evidence(v: LastView): string[] {
    const out: string[] = [];
    if (v.jsdScore > 0) out.push(`class mix of the last ${Math.round(v.n)} answers diverges from model ${v.model}'s: JSD=${fmt(v.jsd, 3)} bits (scored above ${fmt(v.jsdStart, 3)})`);
    if (v.balanceScore > 0) {
      out.push(
        `classes come back near-uniform (balance ${fmt(v.balance)} on a 0 natural … 1 uniform scale, z=${fmt(v.balanceZ, 1)}, over ${Math.round(v.n)} answers; ${fmt(100 * v.repeats, 0)}% inputs distinct)`,
      );
    }
    if (v.driftScore > 0 && v.drift) out.push(`model ${v.model}'s output mix drifted JSD=${fmt(v.drift.jsd, 3)} bits between its last two epochs (${v.drift.samples} answers)`);
    return out;
  }
}

/**
 * `renormalized`, remembered per distribution array and width within a poll
 * (a reference changes only when an epoch is folded in, as a new array).
 * The rows it returns are shared: read, never written.
 */
class Renormalized {
  private readonly seen = new Map<readonly number[], { width: number; row: number[] }>();

  get(dist: readonly number[], width: number): number[] {
    const hit = this.seen.get(dist);
    if (hit && hit.width === width) return hit.row;
    const row = renormalized(dist, width);
    this.seen.set(dist, { width, row });
    return row;
  }
}

/** The first `width` entries of a distribution, summing to 1. */
function renormalized(dist: readonly number[], width: number): number[] {
  const head = dist.slice(0, width);
  const total = head.reduce((a, b) => a + b, 0);
  return total > 0 ? head.map((v) => v / total) : new Array(width).fill(1 / width);
}

export const outputDrift: DetectorDefinition<OutputDriftConfig, OutputDriftState> = {
  name: 'output-drift',
  description: "Jensen-Shannon divergence of a key's class mix from the model's, balanced class coverage, and drift of the model's output mix",
  configSchema: outputDriftConfigSchema,
  create: (config) => new OutputDriftDetector(config),
};
