import { describe, expect, it } from 'vitest';
import { addToRing, createRing, ringDistinct } from '../../../detectors/shared/SketchBuckets.ts';

/** Distinct values by brute force. */
const distinct = (xs: readonly number[]) => new Set(xs).size;

describe('SketchBuckets ring', () => {
  it('counts the distinct buckets of the ring exactly, as it fills, wraps, and after a JSON round trip', () => {
    let seed = 7;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % 40;
    for (const size of [1, 5, 32, 128]) {
      let r = createRing();
      for (let i = 0; i < 400; i++) {
        addToRing(r, next(), size);
        expect(ringDistinct(r), `${size} ${i}`).toBe(distinct(r.ring));
        if (i % 37 === 0) r = JSON.parse(JSON.stringify(r));
      }
    }
  });

  it('keeps nothing beside the ring: a ring changed in place (restored, or taken over by another key) counts as it now is', () => {
    const r = createRing();
    for (const b of [1, 2, 3, 3]) addToRing(r, b, 4);
    expect(ringDistinct(r)).toBe(3);
    r.ring[0] = 3;
    r.ring[1] = 3;
    expect(ringDistinct(r)).toBe(1);
  });

  it('counts rings of several keys and widths in turn without mixing them, and survives ids no bucket table holds', () => {
    const a = { ring: [4095, 0, 4095, 17], head: 0 };
    const b = { ring: [0, 1, 2], head: 0 };
    expect([ringDistinct(a), ringDistinct(b), ringDistinct(a)]).toEqual([3, 3, 3]);
    expect(ringDistinct({ ring: [-1, 2 ** 40, 2 ** 40, 5], head: 0 })).toBe(3);
    expect(ringDistinct(createRing())).toBe(0);
  });
});
