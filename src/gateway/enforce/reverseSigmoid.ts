import { normalise } from './probVector.ts';

const CLIP = 1e-9;

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * Reverse Sigmoid (Lee, Edwards, Molloy & Srivastava, "Defending against
 * NN model stealing attacks using deceptive perturbations", IEEE S&P
 * Workshops 2019): r = β·(s(γ·s⁻¹(y)) − ½), ŷ = α·(y − r) with α the
 * normaliser. Small probabilities are pushed up and large ones down, by an
 * amount that is not monotone in y, so the answer no longer tells the
 * model's logits and a surrogate fitted to the soft labels (equation
 * solving, distillation) is led towards a different function. Entries are
 * clipped to [1e-9, 1] before normalising (IBM ART clips to [0, 1]; the
 * floor keeps every entry usable on a log scale). The top-1 may move for
 * large β; the enforcer restores it.
 */
export function reverseSigmoid(probs: readonly number[], beta: number, gamma: number): number[] {
  return normalise(
    probs.map((y) => {
      const c = Math.min(1 - CLIP, Math.max(CLIP, y));
      const r = beta * (sigmoid(gamma * Math.log(c / (1 - c))) - 0.5);
      return Math.min(1, Math.max(CLIP, y - r));
    }),
  );
}
