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
  /** The gateway's own misinformation model for the misinformation modes (default: `keyedWrongClass`). */
  misinformation?: (probs: readonly number[]) => number[];
}

/**
 * The deceive level's answer for one query (probabilities summing to 1).
 *
 * `misinformation` (default): the model's probabilities with the top class
 * swapped for a keyed wrong one (`keyedWrongClass`, or the gateway's own
 * misinformation model), fixed per key and input: a repeated query gets the
 * same wrong answer, so neither averaging nor voting recovers the label. The
 * ladder reaches deceive only well above truncate, so this is what a caught
 * key gets; the cost is that a key wrongly judged an attacker gets wrong
 * labels too (the quality benchmark measures both sides).
 *
 * `reverse-sigmoid`: Reverse Sigmoid (`reverseSigmoid`), then
 * log-normal noise of σ = `noise` on each non-top class drawn from
 * HMAC(secret, apiKey‖inputHash), then the top-1 restored. Label-preserving:
 * an honest caller still gets the right class, and the answer is the same
 * every time the key repeats the input, so averaging repeated queries
 * recovers nothing. The cost of label preservation: a surrogate trained on
 * hard labels, or on the argmax of the soft ones, loses little — the
 * deception only misleads attacks that fit the probabilities themselves.
 *
 * `adaptive-misinformation`: see `adaptiveMisinformation`; changes only
 * the label of low-confidence queries to the keyed wrong class.
 *
 * With the watermark enabled, the key's signs are embedded last (after the
 * mode's perturbation), so `watermarkScore` finds them in what was sent.
 */
export function deceiveProbs(probs: readonly number[], query: DeceptionQuery, settings: EnforcementSettings['deceive'], keys: DeceptionKeys = {}): number[] {
  if (probs.length < 2) return [...probs];
  let out: number[];
  if (settings.mode !== 'reverse-sigmoid') {
    const m = settings.misinformation;
    const tau = settings.mode === 'misinformation' ? 1 : m.tau;
    out = adaptiveMisinformation(probs, tau, m.nu, keys.misinformation ?? keyedWrongClass(queryRandom(keys.secret, 'misinformation', query.apiKey, query.inputHash)));
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
