/**
 * Weighted noisy-OR fusion: each detector is an independent witness that the
 * key is attacking with probability weight × score, so
 * risk = 1 − Π (1 − wᵢ·sᵢ). Transparent, monotone in every score, and a
 * single certain witness with weight 1 is enough.
 */
export function noisyOr(scores: ArrayLike<number>, weights: ArrayLike<number>): number {
  let quiet = 1;
  for (let i = 0; i < scores.length; i++) quiet *= 1 - clamp01(weights[i] * scores[i]);
  return 1 - quiet;
}

export function clamp01(x: number): number {
  return x <= 0 || Number.isNaN(x) ? 0 : x >= 1 ? 1 : x;
}
