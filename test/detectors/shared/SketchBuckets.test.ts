import { describe, expect, it } from 'vitest';
import { addToRing, type BucketRing, createRing, ringDistinct } from '../../../detectors/shared/SketchBuckets.ts';
import { decodeSection, encodeSection } from '../../../src/state/SnapshotCodec.ts';

/** Distinct values by brute force. */
const distinct = (xs: Iterable<number>) => new Set(xs).size;

/** The ring as it was kept before full rings went typed: a plain array, pushed while filling, then written round. */
function plainRing(ids: readonly number[], size: number): BucketRing {
  const r = { ring: [] as number[], head: 0 };
  for (const b of ids) {
    if (r.ring.length < size) r.ring.push(b);
    else {
      r.ring[r.head] = b;
      r.head = (r.head + 1) % size;
    }
  }
  return r;
}

describe('SketchBuckets ring', () => {
  it('counts the distinct buckets of the ring exactly, as it fills, wraps, and after a snapshot round trip', () => {
    let seed = 7;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % 40;
    for (const size of [1, 5, 32, 128]) {
      let r = createRing();
      for (let i = 0; i < 400; i++) {
        addToRing(r, next(), size);
        expect(ringDistinct(r), `${size} ${i}`).toBe(distinct(r.ring));
        if (i % 37 === 0) r = decodeSection(encodeSection(r)) as BucketRing;
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

  it('holds a full ring of 32 ids or more in a Uint16Array of its size, the same ids in the same places as a plain ring', () => {
    let seed = 11;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % 4096;
    for (const size of [5, 31, 32, 128]) {
      const ids = Array.from({ length: 3 * size + 7 }, next);
      const r = createRing();
      for (let i = 0; i < ids.length; i++) {
        addToRing(r, ids[i], size);
        const want = plainRing(ids.slice(0, i + 1), size);
        expect(Array.from(r.ring)).toEqual(want.ring);
        expect(r.head).toBe(want.head);
      }
      expect(r.ring instanceof Uint16Array).toBe(size >= 32);
      expect(r.ring.length).toBe(size);
      const back = decodeSection(encodeSection(r)) as BucketRing;
      expect(back.ring).toEqual(r.ring);
    }
  });

  it('makes an older full plain ring typed as it comes round, and goes plain again for an id no Uint16Array holds', () => {
    const older = plainRing(Array.from({ length: 40 }, (_, i) => i), 32);
    expect(older.head).toBe(8);
    for (let i = 0; i < 25; i++) addToRing(older, 100 + i, 32);
    expect(older.ring).toBeInstanceOf(Uint16Array);
    expect(Array.from(older.ring)).toEqual([124, ...Array.from({ length: 7 }, (_, i) => 33 + i), ...Array.from({ length: 24 }, (_, i) => 100 + i)]);
    addToRing(older, 2 ** 40, 32);
    expect(Array.isArray(older.ring)).toBe(true);
    expect(Array.from(older.ring).slice(0, 4)).toEqual([124, 2 ** 40, 34, 35]);
    expect(ringDistinct(older)).toBe(distinct(older.ring));
  });
});
