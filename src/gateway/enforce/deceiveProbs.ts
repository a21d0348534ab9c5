import type { KeyObject } from 'node:crypto';
import { adaptiveMisinformation, keyedWrongClass } from './adaptiveMisinformation.ts';
import type { EnforcementSettings } from './enforcementOptions.ts';
import { argmax, keepTopOne } from './probVector.ts';
import { normalDraw, queryRandom } from './queryRandom.ts';
import { reverseSigmoid } from './reverseSigmoid.ts';
import { embedWatermark, watermarkSigns } from './watermark.ts';

/** Who asked what: the deceived answer is fixed by these. */
export interface DeceptionQuery {
  apiKey: string;
  inputHash: Buffer;
}

export interface DeceptionKeys {
  /** Seeds the keyed noise (and, for the watermark, its signs). */
  secret?: KeyObject | Buffer;
  /** The gateway's own misinformation model for adaptive misinformation (default: `keyedWrongClass`). */
  misinformation?: (probs: readonly number[]) => number[];
}

/**
 * The deceive level's answer for one query (probabilities summing to 1).
 *
 * `reverse-sigmoid` (default): Reverse Sigmoid (`reverseSigmoid`), then
 * log-normal noise of σ = `noise` on each non-top class drawn from
 * HMAC(secret, apiKey‖inputHash), then the top-1 restored. Label-preserving:
 * an honest caller still gets the right class, and the answer is the same
 * every time the key repeats the input, so averaging repeated queries
 * recovers nothing. The cost of label preservation: a surrogate trained on
 * hard labels, or on the argmax of the soft ones, loses little — the
 * deception only misleads attacks that fit the probabilities themselves.
 *
 * `adaptive-misinformation` (opt-in): see `adaptiveMisinformation`; changes
 * the label of low-confidence queries to a keyed wrong class
 * (`keyedWrongClass`), fixed per key and input like the noise.
 *
 * With the watermark enabled, the key's signs are embedded last (after the
 * mode's perturbation), so `watermarkScore` finds them in what was sent.
 */
export function deceiveProbs(probs: readonly number[], query: DeceptionQuery, settings: EnforcementSettings['deceive'], keys: DeceptionKeys = {}): number[] {
  if (probs.length < 2) return [...probs];
  let out: number[];
  if (settings.mode === 'adaptive-misinformation') {
    const m = settings.misinformation;
    out = adaptiveMisinformation(probs, m.tau, m.nu, keys.misinformation ?? keyedWrongClass(queryRandom(keys.secret, 'misinformation', query.apiKey, query.inputHash)));
  } else {
    const top = argmax(probs);
    out = reverseSigmoid(probs, settings.beta, settings.gamma);
    if (settings.noise > 0) {
      const rand = queryRandom(keys.secret, 'noise', query.apiKey, query.inputHash);
      out = out.map((p, i) => (i === top ? p : p * Math.exp(settings.noise * normalDraw(rand))));
    }
    out = keepTopOne(out, top);
  }
  if (settings.watermark.enabled) {
    if (!keys.secret) throw new RangeError('the deceive watermark needs a secret (watermarkKey)');
    const top = argmax(out);
    out = keepTopOne(embedWatermark(out, top, watermarkSigns(keys.secret, query.apiKey, query.inputHash, out.length), settings.watermark.strength), top);
  }
  return out;
}
