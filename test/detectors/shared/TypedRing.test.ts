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
    expect(filling.values).toEqual(Uint16Array.of(1, 2));
    expect(filling.values.buffer.byteLength).toBe(4);
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
    const r = new TypedRing('f32', 8, undefined);
    for (const v of [1, 2, 3]) r.push(v);
    const state = { key: 'k', lastTs: 0, risk: 0, ladder: { level: 'allow' }, detectors: { 'grid-sweep': { distances: r.save(), rows: Float32Array.of(1, 2) } } } as unknown as KeyState;
    const packer = new KeyStatePacker();
    const back = packer.unpack(packer.pack(state)).detectors['grid-sweep'] as { distances: { values: Float32Array }; rows: Float32Array };
    expect(back.distances.values).toEqual(Float32Array.of(1, 2, 3));
    expect(back.rows).toEqual(Float32Array.of(1, 2));
  });
});
