import { normalQuantile, normalUpperTail } from './normal.ts';

/** The outcome of a Shapiro–Wilk test. */
export interface ShapiroWilkResult {
  /** The W statistic in (0, 1]; near 1 for normal data. */
  w: number;
  /** Approximate p-value of the null hypothesis "the sample is normal". */
  p: number;
  n: number;
}

export const SHAPIRO_WILK_MIN_N = 3;
export const SHAPIRO_WILK_MAX_N = 5000;

/** Polynomial c[0] + c[1]x + … (AS 181.2's `poly`). */
function poly(c: readonly number[], x: number): number {
  let r = 0;
  for (let k = c.length - 1; k >= 0; k--) r = r * x + c[k];
  return r;
}

// Coefficients of Royston's approximations, as published with AS R94
// (Royston 1995) and carried unchanged by R's swilk.c and SciPy's swilk.f.
const C1 = [0, 0.221157, -0.147981, -2.07119, 4.434685, -2.706056]; // a_n as a polynomial in 1/√n
const C2 = [0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633]; // a_{n-1}
const C3 = [0.544, -0.39978, 0.025054, -6.714e-4]; // mean of the transformed W, n ≤ 11
const C4 = [1.3822, -0.77857, 0.062767, -0.0020322]; // log sd, n ≤ 11
const C5 = [-1.5861, -0.31082, -0.083751, 0.0038915]; // mean of log(1 − W), n ≥ 12, in log n
const C6 = [-0.4803, -0.082676, 0.0030302]; // log sd, n ≥ 12
const G = [-2.273, 0.459]; // the γ(n) bound for n ≤ 11

/** Memoised coefficient vectors (the first ⌊n/2⌋; the rest follow by antisymmetry). */
const coefficientCache = new Map<number, Float64Array>();

/**
 * Royston's approximation of the Shapiro–Wilk coefficients a_1..a_⌊n/2⌋
 * (magnitudes of the lower half; a_{n+1−i} = −a_i). Normal scores
 * m_i = Φ⁻¹((i − 3/8)/(n + 1/4)), normalised, with the two extreme
 * coefficients replaced by Royston's polynomial corrections (1992).
 */
function coefficients(n: number): Float64Array {
  const cached = coefficientCache.get(n);
  if (cached) return cached;
  const half = Math.floor(n / 2);
  const a = new Float64Array(half);
  if (n === 3) {
    a[0] = Math.SQRT1_2;
  } else {
    const m = new Float64Array(half);
    let summ2 = 0;
    for (let i = 0; i < half; i++) {
      m[i] = -normalQuantile((i + 1 - 0.375) / (n + 0.25)); // positive: the upper-half score
      summ2 += m[i] * m[i];
    }
    summ2 *= 2;
    const ssumm2 = Math.sqrt(summ2);
    const rsn = 1 / Math.sqrt(n);
    const a1 = m[0] / ssumm2 + poly(C1, rsn);
    let fac: number;
    let first: number;
    if (n > 5) {
      const a2 = m[1] / ssumm2 + poly(C2, rsn);
      fac = Math.sqrt((summ2 - 2 * m[0] * m[0] - 2 * m[1] * m[1]) / (1 - 2 * a1 * a1 - 2 * a2 * a2));
      a[1] = a2;
      first = 2;
    } else {
      fac = Math.sqrt((summ2 - 2 * m[0] * m[0]) / (1 - 2 * a1 * a1));
      first = 1;
    }
    a[0] = a1;
    for (let i = first; i < half; i++) a[i] = m[i] / fac;
  }
  if (coefficientCache.size > 64) coefficientCache.clear();
  coefficientCache.set(n, a);
  return a;
}

/**
 * The Shapiro–Wilk W test of normality for 3 ≤ n ≤ 5000, with Royston's
 * approximations for the coefficients and the p-value: Royston (1992),
 * "Approximating the Shapiro–Wilk W-test for non-normality", Statistics and
 * Computing 2:117–119, as implemented in Algorithm AS R94 (Royston 1995,
 * Applied Statistics 44:547–551). The p-value is exact for n = 3 and
 * approximate otherwise (separately for 4 ≤ n ≤ 11 and n ≥ 12); Royston
 * calls it adequate for p < 0.1. This follows the published algorithm step
 * by step — the same one R's `shapiro.test` (C translation, swilk.c) and
 * SciPy's `shapiro` (swilk.f) run — and its tests compare against R outputs.
 *
 * Throws RangeError when n is out of range, a value is not finite, or all
 * values are identical (W is undefined: there is no spread to test).
 */
export function shapiroWilk(sample: ArrayLike<number>): ShapiroWilkResult {
  const n = sample.length;
  if (n < SHAPIRO_WILK_MIN_N || n > SHAPIRO_WILK_MAX_N) {
    throw new RangeError(`Shapiro-Wilk needs between ${SHAPIRO_WILK_MIN_N} and ${SHAPIRO_WILK_MAX_N} values, got ${n}`);
  }
  const x = Float64Array.from(sample).sort();
  if (!Number.isFinite(x[0]) || !Number.isFinite(x[n - 1])) throw new RangeError('Shapiro-Wilk needs finite values');
  const range = x[n - 1] - x[0];
  if (!(range > 1e-12 * Math.max(Math.abs(x[0]), Math.abs(x[n - 1])))) throw new RangeError('Shapiro-Wilk: all values are identical');

  // W is the squared correlation between the ordered sample and the
  // coefficients (AS R94 computes it this way to avoid rounding near W = 1).
  const a = coefficients(n);
  const half = a.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i];
  mean /= n;
  let ssx = 0;
  let sax = 0;
  for (let i = 0; i < n; i++) {
    const d = (x[i] - mean) / range;
    ssx += d * d;
    // Lower half −a_i, upper half +a_i, the middle of an odd sample 0.
    const coef = i < half ? -a[i] : i >= n - half ? a[n - 1 - i] : 0;
    sax += coef * d;
  }
  let ssa = 0;
  for (let i = 0; i < half; i++) ssa += 2 * a[i] * a[i];
  const ssassx = Math.sqrt(ssa * ssx);
  // 1 − W, computed as a difference of squares so W near 1 keeps its digits.
  const w1 = Math.max(0, ((ssassx - sax) * (ssassx + sax)) / (ssa * ssx));
  const w = 1 - w1;
  return { w, p: pValue(w, w1, n), n };
}

function pValue(w: number, w1: number, n: number): number {
  if (n === 3) {
    // Exact: P = (6/π)(asin √W − π/3).
    return Math.max(0, Math.min(1, (6 / Math.PI) * (Math.asin(Math.sqrt(w)) - Math.PI / 3)));
  }
  if (w1 === 0) return 1;
  let y = Math.log(w1);
  let m: number;
  let s: number;
  if (n <= 11) {
    const gamma = poly(G, n);
    if (y >= gamma) return 1e-99; // beyond the approximation's range: as R's swilk.c
    y = -Math.log(gamma - y);
    m = poly(C3, n);
    s = Math.exp(poly(C4, n));
  } else {
    const ln = Math.log(n);
    m = poly(C5, ln);
    s = Math.exp(poly(C6, ln));
  }
  return normalUpperTail((y - m) / s);
}
