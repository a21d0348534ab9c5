import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { digestPlanes, digestsFromPlanes } from '../../src/state/digestPlanes.ts';
import { eventIdDigest } from '../../src/state/KeyStateStore.ts';

describe('digestPlanes', () => {
  it('gives back every digest exactly, in order (property: any integers below 2^52)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 52 - 1 }), { maxLength: 300 }), (ids) => {
        const planes = digestPlanes(ids)!;
        expect(planes).toBeInstanceOf(Uint8Array);
        expect(planes.length).toBe(7 * ids.length);
        expect(digestsFromPlanes(planes)).toStrictEqual(ids);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the bytes apart by plane, each digest at the edges of its words intact', () => {
    const ids = [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 52 - 1, 0x0abcdef0123456, ...Array.from({ length: 250 }, (_, i) => eventIdDigest(`e-${i}`))];
    const planes = digestPlanes(ids)!;
    expect(digestsFromPlanes(planes)).toStrictEqual(ids);
    const n = ids.length;
    // The top plane holds the digests' top 4 bits: 2^52 − 1 has 0xf there, 2^32 a 0 (its 1 is in plane 4).
    expect(planes[6 * n + 4]).toBe(0xf);
    expect([planes[4 * n + 3], planes[6 * n + 3]]).toEqual([1, 0]);
    for (let i = 0; i < n; i++) expect(planes[6 * n + i]).toBeLessThan(16);
    expect(planes[5]).toBe(0x56);
  });

  it('declines what is not a digest (fractions, negatives, -0, 2^52 and past, NaN), so the caller keeps the array', () => {
    for (const odd of [0.5, -1, -0, 2 ** 52, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY]) expect(digestPlanes([1, odd, 2])).toBeUndefined();
    expect(digestsFromPlanes(digestPlanes([])!)).toEqual([]);
  });
});
