import { argmax } from './probVector.ts';

/**
 * A model-free misinformation answer: the probabilities with their ranks
 * reversed (the most likely class gets the smallest value and the least
 * likely the largest). It looks like a real answer and is a consistent,
 * smooth function of the input, so a surrogate learns a wrong function
 * rather than averaging out noise.
 */
export function rankReversed(probs: readonly number[]): number[] {
  const order = probs.map((_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
  const out = new Array<number>(probs.length);
  for (let r = 0; r < order.length; r++) out[order[r]] = probs[order[order.length - 1 - r]];
  return out;
}

/**
 * A keyed misinformation answer: the top class swaps its probability with
 * another class drawn from `rand` (a per-(key, input) stream, see
 * `queryRandom`). The answer keeps the look of a real one (the same values),
 * its top-1 is wrong, and, unlike `rankReversed`, the wrong class cannot be
 * undone by a rule an attacker could learn from a few answers whose true
 * labels it knows (taking the argmin undoes a rank reversal): without the
 * gateway's secret the swap is unpredictable, yet a repeated query gets the
 * same one.
 */
export function keyedWrongClass(rand: () => number): (probs: readonly number[]) => number[] {
  return (probs) => {
    const out = [...probs];
    if (out.length < 2) return out;
    const top = argmax(probs);
    const other = (top + 1 + Math.floor(rand() * (out.length - 1))) % out.length;
    [out[top], out[other]] = [out[other], out[top]];
    return out;
  };
}

/**
 * Adaptive Misinformation (Kariyappa & Qureshi, "Defending Against Model
 * Stealing Attacks with Adaptive Misinformation", CVPR 2020): with y_max
 * the top probability (the paper's out-of-distribution signal, maximum
 * softmax probability), α = 1 / (1 + e^{ν·(y_max − τ)}) and
 * y' = (1 − α)·y + α·ŷ, where ŷ is the misinformation answer. Confident
 * (in-distribution) queries pass almost unchanged; unconfident ones, which
 * extraction attacks send far more often than natural users, get ŷ, whose
 * top-1 is another class.
 *
 * The maximum softmax probability is a usable OOD signal only for models
 * trained for it (the paper's victims use Outlier Exposure); a plain
 * classifier is often more confident far from its data than on it, and
 * then the switch misses the attacker's queries. τ = 1 drops the gate and
 * misinforms every answer the key gets.
 *
 * Trade-off: this is NOT label-preserving. It is what cuts the top-1
 * agreement of surrogates trained on labels, but every honest query below τ
 * gets a wrong label too; it applies only at the deceive level, where the
 * default (`misinformation` mode) is τ = 1. The paper trains ŷ as a model that minimises the
 * probability of the correct class; without one, the deceive level uses
 * `keyedWrongClass` (this function's own default is the simpler
 * `rankReversed`), and a gateway with its own misinformation model can pass it.
 */
export function adaptiveMisinformation(probs: readonly number[], tau: number, nu: number, misinformation: (probs: readonly number[]) => number[] = rankReversed): number[] {
  const top = probs[argmax(probs)];
  // τ = 1 misinforms every answer: the key is already judged an attacker, whatever its queries look like.
  const alpha = tau >= 1 ? 1 : 1 / (1 + Math.exp(nu * (top - tau)));
  if (alpha === 0) return [...probs];
  const wrong = misinformation(probs);
  if (wrong.length !== probs.length) throw new RangeError(`misinformation answer has ${wrong.length} classes, expected ${probs.length}`);
  return probs.map((y, i) => (1 - alpha) * y + alpha * wrong[i]);
}
