import type { KeyObject } from 'node:crypto';
import { argmax } from './probVector.ts';
import { queryRandom } from './queryRandom.ts';

/** Smallest probability taken into logs. */
const FLOOR = 1e-12;

/** The ±1 watermark sign of each class for one key and input. */
export function watermarkSigns(secret: KeyObject | Buffer, apiKey: string, inputHash: Buffer, classes: number): number[] {
  const rand = queryRandom(secret, 'watermark', apiKey, inputHash);
  return Array.from({ length: classes }, () => (rand() < 0.5 ? -1 : 1));
}

/**
 * Embeds key `apiKey`'s watermark: every non-top probability is scaled by
 * e^{±strength}, the sign drawn from HMAC(secret, apiKey‖inputHash). The
 * caller renormalises and restores the top-1.
 */
export function embedWatermark(probs: readonly number[], top: number, signs: readonly number[], strength: number): number[] {
  return probs.map((p, i) => (i === top ? p : p * Math.exp(strength * signs[i])));
}

/** One answer as a released (leaked, resold, or re-served) data set holds it. */
export interface WatermarkedAnswer {
  inputHash: Buffer;
  probs: readonly number[];
}

export interface WatermarkScore {
  /** Sign-randomisation z-score: about N(0, 1) for answers without this key's watermark. */
  z: number;
  /** Answers that carried probabilities for at least three classes (the others say nothing). */
  answers: number;
  watermarked: boolean;
}

/**
 * Tells whether answers carry key `apiKey`'s watermark. For each answer,
 * the centred log-probabilities of the non-top classes are correlated with
 * the key's signs for that input; z = Σ correlations / √(Σ variances). For
 * answers that did not get this key's watermark the signs are independent
 * of the values, so z has mean 0 and variance 1 whatever the data
 * (a permutation-style test needing no model); watermarked answers shift
 * it up by about strength·√(answers·classes). Detected when z ≥ `threshold`
 * (default 4: a false alarm about 3 in 100,000 under the null).
 *
 * It identifies answers (a leaked transfer set, or a copy queried on the
 * same inputs that memorised them); the signs change per input, so a model
 * trained on the answers does not carry them to unseen inputs.
 */
export function watermarkScore(secret: KeyObject | Buffer, apiKey: string, answers: Iterable<WatermarkedAnswer>, threshold = 4): WatermarkScore {
  let sum = 0;
  let variance = 0;
  let used = 0;
  for (const a of answers) {
    if (a.probs.length < 3) continue;
    const top = argmax(a.probs);
    const signs = watermarkSigns(secret, apiKey, a.inputHash, a.probs.length);
    const logs: number[] = [];
    const idx: number[] = [];
    a.probs.forEach((p, i) => {
      if (i === top) return;
      logs.push(Math.log(Math.max(p, FLOOR)));
      idx.push(i);
    });
    const mean = logs.reduce((s, v) => s + v, 0) / logs.length;
    for (let k = 0; k < logs.length; k++) {
      const d = logs[k] - mean;
      sum += signs[idx[k]] * d;
      variance += d * d;
    }
    used++;
  }
  const z = variance > 0 ? sum / Math.sqrt(variance) : 0;
  return { z, answers: used, watermarked: z >= threshold };
}
