import { describe, expect, it } from 'vitest';
import { addDistinct, createDistinctSketch, distinctRatio } from '../../../detectors/shared/DistinctSketch.ts';

/** The sketch as it was kept before the full sketch took new minimums in place: insert, then drop the largest. */
function reference(hashes: Buffer[], k: number): { n: number; mins: number[] } {
  const s = { n: 0, mins: [] as number[] };
  for (const h of hashes) {
    s.n++;
    const v = h.readUInt32BE(0);
    if (s.mins.length >= k && v >= s.mins[s.mins.length - 1]) continue;
    if (s.mins.includes(v)) continue;
    s.mins.push(v);
    s.mins.sort((a, b) => a - b);
    if (s.mins.length > k) s.mins.pop();
  }
  return s;
}

describe('DistinctSketch', () => {
  it('keeps the k smallest distinct prefixes as an insert-and-drop would, repeats and all', () => {
    let seed = 7;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (const k of [8, 48, 64]) {
      const hashes: Buffer[] = [];
      for (let i = 0; i < 2_000; i++) {
        const b = Buffer.alloc(32);
        // Some repeats, and prefixes near both ends of the 32-bit range.
        b.writeUInt32BE(i % 7 === 0 && hashes.length ? hashes[next() % hashes.length].readUInt32BE(0) : next(), 0);
        hashes.push(b);
      }
      const s = createDistinctSketch();
      for (const h of hashes) addDistinct(s, h, k);
      const want = reference(hashes, k);
      expect(s.n).toBe(want.n);
      expect(s.mins).toEqual(want.mins);
      expect(distinctRatio(s, k)).toBe(distinctRatio(want, k));
    }
  });

  it('goes on from a sketch longer than k (k lowered) as before: the length stays', () => {
    const s = { n: 10, mins: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100] };
    const b = Buffer.alloc(32);
    b.writeUInt32BE(25, 0);
    addDistinct(s, b, 8);
    expect(s.mins).toEqual([10, 20, 25, 30, 40, 50, 60, 70, 80, 90]);
  });
});
