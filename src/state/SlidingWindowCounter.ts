import { DOUBLE_ZERO } from './doubleZero.ts';
/**
 * A sliding-window event counter made of `buckets` fixed buckets of
 * `bucketMs` each, as plain JSON so it can live in snapshotted key state.
 * The window covers the current bucket and the `buckets - 1` before it, so
 * the count is exact to one bucket's width.
 *
 * Most windows of most keys hold a few non-zero buckets, so `counts` starts
 * sparse and becomes the dense ring only once that is no larger.
 */
export interface WindowCounter {
  bucketMs: number;
  /**
   * Dense (length `buckets`): a ring of counts, slot `i % buckets` holds
   * bucket index `i`; a `Uint32Array` when there are `TYPED_BUCKETS` or more
   * and every count is a whole number below 2^32 (4 bytes a bucket, not 8),
   * else a plain array (older snapshots' always). Sparse (shorter):
   * `[index, count, …]` pairs of the non-zero buckets, oldest first.
   */
  counts: number[] | Uint32Array;
  /** Index (ts / bucketMs) of the newest bucket seen. */
  head: number;
  total: number;
  /** The window's bucket count; absent in older snapshots, whose `counts` are always dense. */
  buckets?: number;
}

export function createWindow(horizonMs: number, buckets: number): WindowCounter {
  // `total` becomes a double at its first subtraction of a count read from a double array: a double from the start (`DOUBLE_ZERO`).
  return { bucketMs: Math.max(1, Math.ceil(horizonMs / buckets)), counts: [], head: -1, total: DOUBLE_ZERO, buckets };
}

const sizeOf = (w: WindowCounter): number => w.buckets ?? w.counts.length;

/** Fewest buckets a dense window keeps in a `Uint32Array`: below it a plain array takes less (a small typed array costs about 180 bytes of heap beside its values). */
const TYPED_BUCKETS = 32;

const isU32 = (x: number): boolean => Number.isInteger(x) && x >= 0 && x <= 0xffffffff;

/** Moves the window so that bucket `index` is the newest, clearing expired buckets. */
function advance(w: WindowCounter, index: number): void {
  const n = sizeOf(w);
  if (w.head < 0 || index - w.head >= n) {
    // Everything expired: back to an empty sparse form.
    w.buckets = n;
    w.counts = [];
    w.total = 0;
  } else if (w.counts.length < n) {
    const c = w.counts as number[];
    let k = 0;
    while (k < c.length && c[k] <= index - n) {
      w.total -= c[k + 1];
      k += 2;
    }
    if (k > 0) w.counts = c.slice(k);
  } else {
    for (let i = w.head + 1; i <= index; i++) {
      const slot = i % n;
      w.total -= w.counts[slot];
      w.counts[slot] = 0;
    }
  }
  w.head = index;
}

/** Adds `n` to bucket `index` (inside the window) of a sparse window, going dense once the pairs would fill as much. */
function addSparse(w: WindowCounter, index: number, n: number): void {
  const c = w.counts as number[];
  let k = c.length;
  while (k > 0 && c[k - 2] > index) k -= 2;
  if (k > 0 && c[k - 2] === index) {
    c[k - 1] += n;
    return;
  }
  const size = sizeOf(w);
  if (c.length + 2 < size) {
    // Copied at its exact length (a push would leave spare capacity in every idle key's windows).
    const next = new Array<number>(c.length + 2);
    for (let j = 0; j < k; j++) next[j] = c[j];
    next[k] = index;
    next[k + 1] = n;
    for (let j = k; j < c.length; j++) next[j + 2] = c[j];
    w.counts = next;
    return;
  }
  let typed = size >= TYPED_BUCKETS && isU32(n);
  for (let j = 1; j < c.length && typed; j += 2) typed = isU32(c[j]);
  const dense = typed ? new Uint32Array(size) : new Array<number>(size).fill(0);
  for (let j = 0; j < c.length; j += 2) dense[c[j] % size] = c[j + 1];
  if (typed && !isU32(dense[index % size] + n)) w.counts = Array.from(dense);
  else w.counts = dense;
  w.counts[index % size] += n;
}

/**
 * Counts `n` events at `ts` and returns the window's count. A late event
 * still inside the window lands in its own bucket; an older one is dropped.
 */
export function addToWindow(w: WindowCounter, ts: number, n = 1): number {
  const index = Math.floor(ts / w.bucketMs);
  if (index > w.head) advance(w, index);
  const size = sizeOf(w);
  if (w.head - index < size) {
    if (w.counts.length < size) addSparse(w, index, n);
    else {
      const slot = index % size;
      // A count a Uint32Array cannot hold (never, counting events one by one) turns the window plain.
      if (!Array.isArray(w.counts) && !isU32(w.counts[slot] + n)) w.counts = Array.from(w.counts);
      w.counts[slot] += n;
    }
    w.total += n;
  }
  return w.total;
}

/** The count in the window ending at `ts` (which must not be older than the newest event). */
export function windowCount(w: WindowCounter, ts: number): number {
  const index = Math.floor(ts / w.bucketMs);
  if (index > w.head) advance(w, index);
  return w.total;
}
