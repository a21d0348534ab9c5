import { exactCopy, inserted } from './appended.ts';

/**
 * K-minimum-values distinct counter (Bar-Yossef et al., RANDOM 2002;
 * Beyer et al., SIGMOD 2007) over the exact input hashes of a key: keeps the
 * `k` smallest 32-bit prefixes of the (uniform, keyed) input hashes and the
 * number of events, so the share of distinct inputs over the key's lifetime
 * is known within ~1/√k with k + 2 numbers of JSON.
 */
export interface DistinctSketch {
  /** Events seen. */
  n: number;
  /** The k smallest distinct hash prefixes, ascending. */
  mins: number[];
}

export function createDistinctSketch(): DistinctSketch {
  return { n: 0, mins: [] };
}

export function hashPrefix(hash: Buffer): number {
  return hash.length >= 4 ? hash.readUInt32BE(0) : 0;
}

export function addDistinct(s: DistinctSketch, hash: Buffer, k: number): void {
  s.n++;
  const v = hashPrefix(hash);
  const m = s.mins;
  if (m.length >= k && v >= m[m.length - 1]) return;
  let lo = 0;
  let hi = m.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (m[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  if (m[lo] === v) return;
  if (m.length >= k) {
    // Full: `v` goes in at `lo` and the largest goes out, in place (an insert and a pop would leave the array room to grow).
    for (let j = m.length - 1; j > lo; j--) m[j] = m[j - 1];
    m[lo] = v;
    return;
  }
  s.mins = inserted(m, lo, v);
  if (s.mins.length === k) s.mins = exactCopy(s.mins);
}

/** Estimated distinct inputs. */
export function distinctCount(s: DistinctSketch, k: number): number {
  if (s.mins.length < k) return s.mins.length;
  return (k - 1) / ((s.mins[k - 1] + 1) / 4294967296);
}

/** Estimated share of the key's events that were distinct inputs (1 = never repeats). */
export function distinctRatio(s: DistinctSketch, k: number): number {
  return s.n === 0 ? 1 : Math.min(1, distinctCount(s, k) / s.n);
}
