import { z } from 'zod';
import { paddedTo } from './appended.ts';
import { compact, ramp } from './math.ts';
import { DOUBLE_ZERO } from '../../src/state/doubleZero.ts';

/**
 * Counts of predicted classes over a sliding horizon: when the total passes
 * `2 × window` every count is halved, so old answers fade and the array's
 * size stays bounded by the class cap.
 */
export interface ClassMix {
  counts: number[];
  total: number;
}

export function createClassMix(): ClassMix {
  return { counts: [], total: DOUBLE_ZERO };
}

/** Folds labels above the cap onto the cap (documented bound on state). */
export function classIndex(label: number, maxClasses: number): number {
  return label < maxClasses ? label : label % maxClasses;
}

export function addClass(m: ClassMix, label: number, window: number, maxClasses: number): void {
  if (label < 0) return;
  const c = classIndex(label, maxClasses);
  if (m.counts.length <= c) m.counts = paddedTo(m.counts, c + 1, 0);
  m.counts[c]++;
  m.total++;
  if (m.total > 2 * window) {
    m.counts = m.counts.map((v) => compact(v / 2));
    m.total = compact(m.total / 2);
  }
}

/**
 * The mix as a distribution of `width` classes, shrunk toward `prior` with
 * `strength` pseudo-counts (a Dirichlet prior), so a key with few answers
 * does not look divergent by chance alone.
 */
export function smoothedMix(m: ClassMix, prior: readonly number[], strength: number, width: number): number[] {
  const out = new Array<number>(width).fill(0);
  const denom = m.total + strength;
  for (let i = 0; i < width; i++) out[i] = ((m.counts[i] ?? 0) + strength * (prior[i] ?? 0)) / denom;
  return out;
}

/**
 * Config fields scoring a `balanceTest` (output-drift's per-key mix,
 * aggregates' pooled one): spread into the detector's `z.object`.
 */
export const balanceFields = {
  /**
   * b is 0 for a mix whose classes come back like the model's and 1 for a
   * uniform one; the score ramps between these values of b and between
   * these z-scores of b (chance balance of a small sample is not enough)…
   */
  balanceLow: z.number().default(0.6),
  balanceHigh: z.number().default(0.85),
  balanceZLow: z.number().default(4),
  balanceZHigh: z.number().default(6),
  /** …and of the mix's evenness (1 uniform, 0 as even as the model's: see `Balance`)… */
  evennessLow: z.number().default(0.5),
  evennessHigh: z.number().default(0.8),
  /** …and is skipped when the model's own mix is this close to uniform (symmetrised KL, nats)… */
  minImbalance: z.number().min(0).default(0.02),
  /**
   * …and weighs only as much as the model's mix is imbalanced (the same
   * symmetrised KL to uniform), ramping from nothing at `imbalanceLow` to
   * full at `imbalanceHigh`: where the model's own classes come back nearly
   * even, a key's small departure from the traffic's mix toward uniform is
   * as likely an honest representative sample (the traffic's mix is itself
   * bent by its topics) as an adaptive transfer set, so the test abstains.
   */
  imbalanceLow: z.number().min(0).default(0.05),
  imbalanceHigh: z.number().min(0).default(0.15),
};

export interface BalanceConfig {
  balanceLow: number;
  balanceHigh: number;
  balanceZLow: number;
  balanceZHigh: number;
  evennessLow: number;
  evennessHigh: number;
  imbalanceLow: number;
  imbalanceHigh: number;
}

/**
 * Score of a balance test: the least of the ramps of b, of its z-score and of
 * the mix's evenness, weighed by how imbalanced the model's own mix is.
 */
export function balanceScore(b: Balance, c: BalanceConfig): number {
  const separable = ramp(b.imbalance, c.imbalanceLow, c.imbalanceHigh);
  return separable * Math.min(ramp(b.b, c.balanceLow, c.balanceHigh), ramp(b.z, c.balanceZLow, c.balanceZHigh), ramp(b.evenness, c.evennessLow, c.evennessHigh));
}

/** A balance test's statistic (0 like the reference … 1 uniform), its z-score under "like the reference", and the mix's evenness. */
export interface Balance {
  b: number;
  z: number;
  /**
   * (H(p̂) − H(r)) / (ln K − H(r)): 1 for a uniform mix, 0 as even as the
   * reference, negative when more concentrated. The LLR alone cannot tell a
   * uniform mix from one piled on a class the reference finds rare.
   */
  evenness: number;
  /** KL(u‖r) + KL(r‖u) of the reference against uniform, nats: how far apart the two hypotheses are. */
  imbalance: number;
}

/**
 * Is a class mix closer to uniform than to the model's? The log-likelihood
 * ratio of the counts under uniform against under the reference,
 * LLR/n = Σ p̂ᵢ ln(uᵢ/rᵢ), has mean −KL(r‖u) when answers follow the
 * reference and +KL(u‖r) when they are uniform (Wald's sequential test
 * statistic). Rescaled to b = (LLR/n + KL(r‖u)) / (KL(u‖r) + KL(r‖u)), it is
 * 0 for a mix like the model's — whichever way it leans otherwise — and 1 for
 * a uniform one; z is b over its standard error under the reference, so
 * chance balance in a small sample scores little. Null when the reference is
 * itself within `minImbalance` (nats, symmetrised KL) of uniform.
 */
export function balanceTest(m: ClassMix, ref: readonly number[], width: number, minImbalance: number, floor = 1e-3): Balance | null {
  if (m.total <= 0 || width < 2) return null;
  const u = 1 / width;
  // r_i = max(ref_i, floor), recomputed below rather than held in an array (this runs per event).
  let rs = 0;
  for (let i = 0; i < width; i++) rs += Math.max(ref[i] ?? 0, floor);
  let klRU = 0;
  let klUR = 0;
  let second = 0;
  let llr = 0;
  let hRef = 0;
  let hMix = 0;
  for (let i = 0; i < width; i++) {
    const ri = Math.max(ref[i] ?? 0, floor) / rs;
    const pi = (m.counts[i] ?? 0) / m.total;
    const x = Math.log(u / ri);
    klRU -= ri * x;
    klUR += u * x;
    second += ri * x * x;
    llr += pi * x;
    hRef -= ri * Math.log(ri);
    if (pi > 0) hMix -= pi * Math.log(pi);
  }
  const span = klUR + klRU;
  if (span < minImbalance) return null;
  const b = (llr + klRU) / span;
  const se = Math.sqrt(Math.max(second - klRU * klRU, 1e-12) / m.total) / span;
  return { b, z: b / se, evenness: (hMix - hRef) / Math.max(Math.log(width) - hRef, 1e-9), imbalance: span };
}
