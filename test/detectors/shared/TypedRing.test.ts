import { describe, expect, it } from 'vitest';
import { oldestFirst, TypedRing } from '../../../detectors/shared/TypedRing.ts';
import { packArray } from '../../../src/compute/packedVectors.ts';
import { KeyStatePacker } from '../../../src/state/KeyStatePacker.ts';
import type { KeyState } from '../../../src/state/KeyStateStore.ts';
import { throughSnapshot } from '../helpers/snapshotRoundTrip.ts';

describe('TypedRing', () => {
  it('keeps the newest values, exactly as many as it holds while filling, across a snapshot', () => {
    const r = new TypedRing('u16', 4, undefined);
    for (const v of [1, 2]) r.push(v);
    const filling = r.save();
    // Young: a plain array of the values, opened again in a typed array of the kind.
    expect(filling.values).toEqual([1, 2]);
    expect(new TypedRing('u16', 4, filling).values).toEqual(Uint16Array.of(1, 2));
    const again = new TypedRing('u16', 4, throughSnapshot(filling), 3);
    for (const v of [3, 4, 5, 6]) again.push(v);
    expect(Array.from(again.ordered())).toEqual([3, 4, 5, 6]);
    expect(again.newest()).toBe(6);
    expect(again.includes(2)).toBe(false);
    expect(again.includes(5)).toBe(true);
    expect(again.sum()).toBe(18);
    // A ring works on its saved values in place: each reopening below starts from a snapshot of its own.
    const saved = again.save();
    const full = () => throughSnapshot(saved);
    expect(saved.values).toHaveLength(4);
    expect(Array.from(oldestFirst(saved))).toEqual([3, 4, 5, 6]);
    const more = new TypedRing('u16', 4, full());
    more.push(7);
    expect(Array.from(more.ordered())).toEqual([4, 5, 6, 7]);
    // Reopened with another capacity: the newest values stay, oldest first.
    expect(Array.from(new TypedRing('u16', 2, full()).ordered())).toEqual([5, 6]);
    const wider = new TypedRing('u16', 6, full());
    wider.push(7);
    expect(Array.from(wider.ordered())).toEqual([3, 4, 5, 6, 7]);
  });

  it('opens the older base64 form as the same values', () => {
    // The older form: the values oldest first, base64.
    const old = { data: packArray(Float32Array.of(0.5, 1.5, 2.5, 3.5, 4.5)) };
    const r = new TypedRing('f32', 4, old);
    expect(Array.from(r.ordered())).toEqual([1.5, 2.5, 3.5, 4.5]);
    r.push(5.5);
    expect(Array.from(r.ordered())).toEqual([2.5, 3.5, 4.5, 5.5]);
    expect(Array.from(new TypedRing('f32', 8, old).save().values)).toEqual([0.5, 1.5, 2.5, 3.5, 4.5]);
    expect(new TypedRing('f32', 4, { data: '' }).n).toBe(0);
  });

  it('survives the packer of quiet keys as typed arrays of their own', () => {
    const r = new TypedRing('f32', 32, undefined);
    for (let v = 1; v <= 20; v++) r.push(v + 0.1);
    const state = { key: 'k', lastTs: 0, risk: 0, ladder: { level: 'allow' }, detectors: { 'grid-sweep': { distances: r.save(), rows: Float32Array.of(1, 2) } } } as unknown as KeyState;
    const packer = new KeyStatePacker();
    const back = packer.unpack(packer.pack(state)).detectors['grid-sweep'] as { distances: { values: Float32Array }; rows: Float32Array };
    expect(back.distances.values).toEqual(r.values.slice(0, 20));
    expect(back.distances.values.byteLength).toBe(back.distances.values.buffer.byteLength);
    expect(back.rows).toEqual(Float32Array.of(1, 2));
  });

  it('saves a young ring as a plain array of the same numbers, an empty one shared, and a longer one typed', () => {
    const r = new TypedRing('f32', 250, undefined, 4);
    expect(r.save()).toBe(new TypedRing('f32', 250, undefined).save());
    expect(Object.isFrozen(r.save())).toBe(true);
    for (const v of [0.1, 2.7, 1e-9]) r.push(v);
    const young = r.save();
    expect(Array.isArray(young.values)).toBe(true);
    expect(young).toEqual({ values: Array.from(Float32Array.of(0.1, 2.7, 1e-9)), head: 3, n: 3 });
    const reopened = new TypedRing('f32', 250, throughSnapshot(young), 1);
    expect(reopened.values).toBeInstanceOf(Float32Array);
    reopened.push(5);
    expect(Array.from(reopened.ordered())).toEqual(Array.from(Float32Array.of(0.1, 2.7, 1e-9, 5)));
    // Reopened with a smaller capacity: the newest values, the ring full.
    const narrow = new TypedRing('f32', 2, young);
    expect([narrow.n, narrow.head, Array.from(narrow.ordered())]).toEqual([2, 0, Array.from(Float32Array.of(2.7, 1e-9))]);
    for (let v = 0; v < 13; v++) reopened.push(v);
    expect(reopened.save().values).toBeInstanceOf(Float32Array);
    // A full ring of a small capacity goes round: typed, whatever its length.
    const small = new TypedRing('u8', 4, undefined);
    for (let v = 1; v <= 5; v++) small.push(v);
    expect(small.save().values).toEqual(Uint8Array.of(5, 2, 3, 4));
  });
});
