/**
 * A sliding-window event counter made of `buckets` fixed buckets of
 * `bucketMs` each, as plain JSON so it can live in snapshotted key state.
 * The window covers the current bucket and the `buckets - 1` before it, so
 * the count is exact to one bucket's width.
 */
export interface WindowCounter {
  bucketMs: number;
  /** Ring of counts; slot `i % buckets.length` holds bucket index `i`. */
  counts: number[];
  /** Index (ts / bucketMs) of the newest bucket seen. */
  head: number;
  total: number;
}

export function createWindow(horizonMs: number, buckets: number): WindowCounter {
  return { bucketMs: Math.max(1, Math.ceil(horizonMs / buckets)), counts: new Array(buckets).fill(0), head: -1, total: 0 };
}

/** Moves the window so that bucket `index` is the newest, clearing expired buckets. */
function advance(w: WindowCounter, index: number): void {
  const n = w.counts.length;
  if (w.head < 0 || index - w.head >= n) {
    w.counts.fill(0);
    w.total = 0;
  } else {
    for (let i = w.head + 1; i <= index; i++) {
      const slot = i % n;
      w.total -= w.counts[slot];
      w.counts[slot] = 0;
    }
  }
  w.head = index;
}

/**
 * Counts `n` events at `ts` and returns the window's count. A late event
 * still inside the window lands in its own bucket; an older one is dropped.
 */
export function addToWindow(w: WindowCounter, ts: number, n = 1): number {
  const index = Math.floor(ts / w.bucketMs);
  if (index > w.head) advance(w, index);
  if (w.head - index < w.counts.length) {
    w.counts[index % w.counts.length] += n;
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
