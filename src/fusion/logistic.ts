import { clamp01 } from './noisyOr.ts';

/**
 * Logistic fusion: risk = σ(bias + Σ wᵢ·sᵢ), the model of a logistic
 * regression of "this key is attacking" on the detector scores. Each
 * detector adds wᵢ·sᵢ to the log-odds, which is what RiskScore evidence
 * ranks detectors by. With wᵢ ≥ 0 it is monotone in every score, like the
 * noisy-OR, so no detector can be triggered on purpose to lower a key's risk.
 */
export function logistic(scores: ArrayLike<number>, weights: ArrayLike<number>, bias: number): number {
  let z = bias;
  for (let i = 0; i < scores.length; i++) z += weights[i] * clamp01(scores[i]);
  return sigmoid(z);
}

/** The logistic function 1 / (1 + e^−z), without overflow for large |z|. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** The inverse of σ: log(p / (1 − p)). */
export function logit(p: number): number {
  return Math.log(p / (1 - p));
}
