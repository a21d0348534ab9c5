import { argmax } from './probVector.ts';

/**
 * Probabilities rounded to `decimals` on a grid that still sums to 1
 * (largest-remainder rounding), with the model's top-1 kept the strict
 * top-1: if rounding tied or passed it, grid units move to it from the
 * largest other class. With 0 decimals the answer is one-hot.
 */
export function roundProbs(probs: readonly number[], decimals: number): number[] {
  const top = argmax(probs);
  if (top < 0) return [];
  const units = 10 ** decimals;
  const scaled = probs.map((p) => p * units);
  const q = scaled.map(Math.floor);
  let left = units - q.reduce((s, v) => s + v, 0);
  const byRemainder = scaled.map((v, i) => i).sort((a, b) => scaled[b] - q[b] - (scaled[a] - q[a]) || a - b);
  for (let k = 0; left > 0 && k < byRemainder.length; k++, left--) q[byRemainder[k]]++;
  for (;;) {
    let other = -1;
    for (let i = 0; i < q.length; i++) if (i !== top && (other < 0 || q[i] > q[other])) other = i;
    if (other < 0 || q[top] > q[other]) break;
    q[other]--;
    q[top]++;
  }
  return q.map((v) => v / units);
}
