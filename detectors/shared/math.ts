/** Small numeric helpers shared by the detectors. */

export function clamp01(x: number): number {
  return x <= 0 || Number.isNaN(x) ? 0 : x >= 1 ? 1 : x;
}

/** 0 at or below `lo`, 1 at or above `hi`, linear between (a score ramp). */
export function ramp(x: number, lo: number, hi: number): number {
  if (!(hi > lo)) return x >= hi ? 1 : 0;
  return clamp01((x - lo) / (hi - lo));
}

/** Two independent witnesses combined: 1 − (1 − a)(1 − b). */
export function either(a: number, b: number): number {
  return 1 - (1 - clamp01(a)) * (1 - clamp01(b));
}

/**
 * One-sided z-score of an observed share against an expected rate p0 over an
 * effective sample size n (normal approximation to the binomial).
 */
export function shareZ(share: number, p0: number, n: number): number {
  const p = Math.min(Math.max(p0, 1e-6), 1 - 1e-6);
  return ((share - p) * Math.sqrt(Math.max(n, 0))) / Math.sqrt(p * (1 - p));
}

/** Rounds for evidence sentences. */
export function fmt(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

export function pct(x: number, digits = 0): string {
  return `${(100 * x).toFixed(digits)}%`;
}

/**
 * Rounds to 7 decimal places so JSON state stays compact (≤ ~10 characters
 * for the values kept: shares, probabilities, sketch coordinates of order 1)
 * without changing any decision.
 */
export function compact(x: number): number {
  return Math.round(x * 1e7) / 1e7;
}

/**
 * `src.map(compact)`, written into `dst` when it is an array of the same
 * length (for state arrays nothing else holds: no garbage per event).
 */
export function compactInto(dst: number[] | null | undefined, src: ArrayLike<number>): number[] {
  const out = dst && dst.length === src.length ? dst : new Array<number>(src.length);
  for (let i = 0; i < src.length; i++) out[i] = compact(src[i]);
  return out;
}

/** Euclidean norm of `a − b` (or of `a` when `b` is omitted). */
export function l2(a: ArrayLike<number>, b?: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - (b ? b[i] : 0);
    s += d * d;
  }
  return Math.sqrt(s);
}

/** Normalised entropy H(p)/ln(K) of a non-negative vector (0 for fewer than two classes). */
export function normalizedEntropy(p: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < p.length; i++) total += p[i];
  if (p.length < 2 || total <= 0) return 0;
  let h = 0;
  for (let i = 0; i < p.length; i++) {
    const q = p[i] / total;
    if (q > 0) h -= q * Math.log(q);
  }
  return h / Math.log(p.length);
}
