/** Index of the largest value (the first on ties); -1 for an empty vector. */
export function argmax(p: ArrayLike<number>): number {
  let best = -1;
  for (let i = 0; i < p.length; i++) if (best < 0 || p[i] > p[best]) best = i;
  return best;
}

/** The vector scaled to sum to 1 (a zero vector stays as it is). */
export function normalise(p: readonly number[]): number[] {
  let sum = 0;
  for (const v of p) sum += v;
  return sum > 0 ? p.map((v) => v / sum) : [...p];
}

/**
 * Makes `top` the strict maximum again after a perturbation, by raising it
 * just above the largest other entry, then renormalises. The other entries
 * keep their ratios, so a pattern carried by them (a watermark) survives.
 */
export function keepTopOne(p: readonly number[], top: number, margin = 1e-3): number[] {
  let other = 0;
  for (let i = 0; i < p.length; i++) if (i !== top && p[i] > other) other = p[i];
  if (p[top] > other * (1 + margin)) return normalise(p);
  const out = [...p];
  out[top] = other * (1 + margin) + Number.EPSILON;
  return normalise(out);
}

/**
 * Checks the model's probabilities: finite and not negative. Anything else
 * is the gateway's bug, not the client's, so it is refused loudly rather
 * than passed on.
 */
export function checkProbs(probs: readonly number[]): void {
  for (let i = 0; i < probs.length; i++) {
    const v = probs[i];
    if (!Number.isFinite(v) || v < 0) throw new RangeError(`model probability ${i} is ${v}; expected a finite value ≥ 0`);
  }
}
