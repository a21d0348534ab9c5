/**
 * Of a pair of scratch rows written in turn, the one that `current` is not, made `dim` long (replaced
 * when of another width): a detector keeps the previous row (a sketch, a step) in one while it writes
 * the next into the other, so that a query costs no allocation. A row handed to a key's state leaves the pair.
 */
export function otherRow(pair: [Float32Array, Float32Array], current: Float32Array | null, dim: number): Float32Array {
  const k = pair[0] === current ? 1 : 0;
  if (pair[k].length !== dim) pair[k] = new Float32Array(dim);
  return pair[k];
}
