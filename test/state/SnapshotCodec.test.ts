import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { eventIdDigest, KeyStateStore } from '../../src/state/KeyStateStore.ts';
import { decodeSections, encodeSections } from '../../src/state/SnapshotCodec.ts';

const WINDOW = 256;
const store = () => new KeyStateStore({ maxKeys: 10, idleEvictMs: 1e9, dedupWindow: WINDOW });
const ids = (n: number) => Array.from({ length: n }, (_, i) => `5f1c2a9e-${String(i).padStart(4, '0')}-4c2b-9d6e-1a2b3c4d5e6f`);

describe('SnapshotCodec, dedup ring', () => {
  it('keeps the ring as numbers, 9 bytes an id in its section, and a restored key drops exactly the ids of its last window', () => {
    const s = store();
    const state = s.get('k');
    const sent = ids(WINDOW + 44);
    for (const id of sent) expect(s.remember(state, id)).toBe(true);
    expect(state.recentIds.every((d) => typeof d === 'number')).toBe(true);
    const sections = encodeSections(state);
    // A msgpack float64 per id and a few bytes of framing: strings of digits would cost more.
    expect(sections.get('ids')!.length).toBeLessThanOrEqual(WINDOW * 9 + 8);

    const restored = store();
    restored.put(decodeSections(sections)!);
    const again = restored.get('k');
    expect(again.recentHead).toBe(state.recentHead);
    for (const id of sent.slice(-WINDOW)) expect(restored.remember(again, id), id).toBe(false);
    expect(restored.remember(again, sent[0])).toBe(true);
    // The ring went on where it stopped: the id just taken in pushed out the oldest remembered one.
    expect(restored.remember(again, sent[WINDOW + 44 - WINDOW])).toBe(true);
  });

  it('reads the base-36 digests of older snapshots as the same digests', () => {
    const s = store();
    const state = s.get('k');
    const sent = ids(20);
    for (const id of sent) s.remember(state, id);
    const sections = encodeSections(state);
    const packr = new Packr({ useRecords: false, moreTypes: true });
    sections.set('ids', packr.pack([state.recentIds.map((d) => d.toString(36)), state.recentHead]));
    const old = decodeSections(sections)!;
    expect(old.recentIds).toEqual(sent.map(eventIdDigest));
    const restored = store();
    restored.put(old);
    for (const id of sent) expect(restored.remember(restored.get('k'), id)).toBe(false);
  });
});
