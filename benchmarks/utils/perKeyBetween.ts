import type { KeyBytes } from '../speed-key-bytes.ts';

/**
 * What one more key costs, from two measures of the same traffic with different key counts: the growth
 * of heap and of array buffers from `fewer` to `more` keys, per key added; what is left of `fewer`'s
 * growth once its keys' share is taken off is the fixed part. A cost that grows with the keys is in the
 * per-key figures, whatever its owner (a key's state, the aggregates and references it feeds).
 */
export function perKeyBetween(fewer: KeyBytes, more: KeyBytes): KeyBytes {
  if (more.keys <= fewer.keys || more.history !== fewer.history || more.primed !== fewer.primed || more.quiet !== fewer.quiet || more.live !== fewer.live) {
    throw new Error('perKeyBetween: two measures of the same kind, the second with more keys');
  }
  const added = more.keys - fewer.keys;
  const heap = (more.heap * more.keys - fewer.heap * fewer.keys) / added;
  const buffers = (more.buffers * more.keys - fewer.buffers * fewer.keys) / added;
  const fixed = { heap: (fewer.heap - heap) * fewer.keys, buffers: (fewer.buffers - buffers) * fewer.keys, fewerKeys: fewer.keys };
  return { ...more, heap, buffers, fixed };
}
