import { describe, expect, it } from 'vitest';
import { type EntityCaps, KeyStateStore, NO_EVIDENCE } from '../../src/state/KeyStateStore.ts';

/** A store with these entity caps, and the drops it reported (`kind:reason`). */
function cappedEntities(maxEntities: EntityCaps, idleEvictMs: number): { store: KeyStateStore; dropped: string[] } {
  const dropped: string[] = [];
  const store = new KeyStateStore({ maxKeys: 10, idleEvictMs, dedupWindow: 0, maxEntities }, undefined, (kind, reason) => dropped.push(`${kind}:${reason}`));
  return { store, dropped };
}

describe('KeyStateStore', () => {
  it('evicts the least recently used key past maxKeys and reports it', () => {
    const evicted: string[] = [];
    const store = new KeyStateStore({ maxKeys: 2, idleEvictMs: 1e9, dedupWindow: 4 }, (k, reason) => evicted.push(`${k}:${reason}`));
    store.get('a');
    store.get('b');
    store.get('a');
    store.get('c');
    expect(evicted).toEqual(['b:capacity']);
    expect(store.has('a') && store.has('c')).toBe(true);
  });

  it('never evicts a key in use: the least recently used key not pinned goes, and a key that cannot be held is refused', () => {
    const evicted: string[] = [];
    const store = new KeyStateStore({ maxKeys: 2, idleEvictMs: 1e9, dedupWindow: 4 }, (k, reason) => evicted.push(`${k}:${reason}`));
    store.get('a').eventsSeen = 5;
    store.get('b');
    store.pin(['a', 'c']);
    store.get('c');
    expect(evicted).toEqual(['b:capacity']);
    expect(store.peek('a')?.eventsSeen).toBe(5);
    store.pin(['d']);
    expect(() => store.get('d')).toThrow(expect.objectContaining({ code: 'PW_CAPACITY' }));
    expect(store.peek('a')?.eventsSeen).toBe(5);
    store.unpin(['a', 'c', 'd']);
    store.get('d');
    expect(evicted).toEqual(['b:capacity', 'a:capacity']);
  });

  it('with a snapshot store in use, tells an eviction of a key changed since its last snapshot apart', () => {
    const evicted: string[] = [];
    const store = new KeyStateStore({ maxKeys: 1, idleEvictMs: 1e9, dedupWindow: 4 }, (k, reason) => evicted.push(`${k}:${reason}`));
    store.trackSaves();
    store.get('a');
    store.markChanged('a');
    store.get('b');
    store.markChanged('b');
    store.markSaved(['b']);
    store.get('c');
    expect(evicted).toEqual(['a:unsaved', 'b:capacity']);
  });

  it('caps aggregate entities per kind, dropping the least recently used of that kind only', () => {
    const { store, dropped } = cappedEntities({ ip: 2, other: 1 }, 1e9);
    store.aggregate('ip:1', 1);
    store.aggregate('ip:2', 2);
    store.aggregate('tenant:a', 2);
    store.aggregate('ip:1', 3);
    store.aggregate('ip:3', 4);
    expect(dropped).toEqual(['ip:capacity']);
    expect(store.aggregates.has('ip:2')).toBe(false);
    expect(store.aggregates.has('ip:1') && store.aggregates.has('ip:3') && store.aggregates.has('tenant:a')).toBe(true);
    store.aggregate('tenant:b', 5);
    expect(store.aggregates.has('tenant:a')).toBe(false);
    expect(store.entityCounts()).toEqual(new Map([['ip', 2], ['tenant', 1]]));
  });

  it('keeps the recency order of entities used event after event, and of one dropped and held again', () => {
    const { store, dropped } = cappedEntities({ ip: 2, other: 3 }, 100);
    store.aggregate('ip:1', 1);
    store.aggregate('ip:2', 2);
    store.aggregate('ip:1', 3);
    store.aggregate('ip:1', 4);
    store.aggregate('ip:3', 5);
    expect([...store.aggregates.keys()]).toEqual(['ip:1', 'ip:3']);
    // 'ip:3', the entity last used, is dropped as idle and held again: it is the most recent once more.
    store.aggregate('ip:1', 200);
    store.aggregate('ip:3', 90);
    store.sweepIdle(195);
    expect([...store.aggregates.keys()]).toEqual(['ip:1']);
    store.aggregate('ip:3', 201);
    store.aggregate('ip:1', 202);
    store.aggregate('ip:4', 203);
    expect([...store.aggregates.keys()]).toEqual(['ip:1', 'ip:4']);
    expect(dropped).toEqual(['ip:capacity', 'ip:idle', 'ip:capacity']);
  });

  it('remembers recent event ids within the dedup window only', () => {
    const store = new KeyStateStore({ maxKeys: 10, idleEvictMs: 1e9, dedupWindow: 3 });
    const s = store.get('k');
    expect(['e1', 'e2', 'e3'].map((id) => store.remember(s, id))).toEqual([true, true, true]);
    expect(store.remember(s, 'e2')).toBe(false);
    expect(store.remember(s, 'e4')).toBe(true); // pushes e1 out
    expect(store.remember(s, 'e1')).toBe(true);
    expect(store.remember(s, 'e4')).toBe(false);
  });

  it('drops exactly the ids of the last dedup window, few or many, across snapshot round trips', () => {
    for (const window of [3, 16, 40]) {
      const store = new KeyStateStore({ maxKeys: 10, idleEvictMs: 1e9, dedupWindow: window });
      let s = store.get('k');
      const accepted: string[] = [];
      let seed = window;
      for (let i = 0; i < 400; i++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        const id = `e${seed % 60}`;
        const expected = !accepted.slice(-window).includes(id);
        expect(store.remember(s, id), `${window} ${i}`).toBe(expected);
        if (expected) accepted.push(id);
        if (i % 53 === 0) {
          store.put(JSON.parse(JSON.stringify(s)));
          s = store.get('k');
        }
      }
    }
  });

  it('keeps dedup memory across a snapshot round trip', () => {
    const store = new KeyStateStore({ maxKeys: 10, idleEvictMs: 1e9, dedupWindow: 8 });
    const s = store.get('k');
    store.remember(s, 'x');
    const other = new KeyStateStore({ maxKeys: 10, idleEvictMs: 1e9, dedupWindow: 8 });
    other.put(JSON.parse(JSON.stringify(s)));
    expect(other.remember(other.get('k'), 'x')).toBe(false);
  });

  it('sweeps keys idle in event time', () => {
    const store = new KeyStateStore({ maxKeys: 10, idleEvictMs: 1000, dedupWindow: 0 });
    store.get('old').lastTs = 100;
    store.get('new').lastTs = 5000;
    expect(store.sweepIdle(5500)).toBe(1);
    expect(store.has('old')).toBe(false);
  });

  it('keeps an idle key until its changes are in a snapshot, and lists the keys a snapshot must write', () => {
    const store = new KeyStateStore({ maxKeys: 10, idleEvictMs: 1000, dedupWindow: 0 });
    store.trackSaves();
    for (const key of ['a', 'b']) {
      store.get(key).lastTs = 100;
      store.markChanged(key);
    }
    store.markSaved(['a']);
    expect(store.unsavedStates().map((s) => s.key)).toEqual(['b']);
    expect(store.unsavedCount).toBe(1);
    expect(store.sweepIdle(5500)).toBe(1);
    expect([store.has('a'), store.has('b')]).toEqual([false, true]);
    store.markSaved(['b']);
    expect(store.sweepIdle(5500)).toBe(1);
    expect(store.size).toBe(0);
  });

  it('hands out the aggregates used since the last snapshot, filtered by entity prefix, and restores without overwriting newer ones', () => {
    const store = new KeyStateStore({ maxKeys: 10, idleEvictMs: 1e9, dedupWindow: 4 });
    store.aggregate('model:m', 10).d = { n: 1 };
    store.aggregate('ip:1.2.3.4', 11).volume = { n: 2 };
    expect(store.takeDirtyAggregates(['model:', 'tenant:'])).toEqual([{ entity: 'model:m', seen: 10, detectors: { d: { n: 1 } } }]);
    expect(store.takeDirtyAggregates(['model:', 'ip:'])).toEqual([]);
    store.aggregate('model:m', 12);
    expect(store.takeDirtyAggregates(['model:']).map((a) => a.seen)).toEqual([12]);

    const restored = new KeyStateStore({ maxKeys: 10, idleEvictMs: 100, dedupWindow: 4 });
    restored.aggregate('tenant:t', 50).d = { live: true };
    expect(restored.putAggregate({ entity: 'tenant:t', seen: 1, detectors: { d: { old: true } } })).toBe(false);
    expect(restored.putAggregate({ entity: 'model:m', seen: 40, detectors: { d: { n: 1 } } })).toBe(true);
    expect(restored.aggregates.get('tenant:t')).toEqual({ d: { live: true } });
    // A restored entity ages like any other: idle past the window, it is dropped.
    restored.sweepIdle(145);
    expect(restored.aggregates.has('model:m')).toBe(false);
    expect(restored.aggregates.has('tenant:t')).toBe(true);
  });

  describe('packing quiet keys', () => {
    const packing = (maxKeys = 10) => new KeyStateStore({ maxKeys, idleEvictMs: 1e9, dedupWindow: 4, packAfterIdleMs: 1000 });
    const fill = (store: KeyStateStore, key: string, lastTs: number, partition = '0') => {
      const s = store.get(key);
      s.lastTs = lastTs;
      s.eventsSeen = 3;
      s.risk = 0.4;
      s.ladder.level = 'observe';
      s.scores = { volume: 0.4, entropy: 0 };
      s.evidence = { volume: ['volume: 3 calls'], entropy: NO_EVIDENCE };
      s.detectors = { volume: { counts: new Float64Array([1, 2, -0]), m: new Map([[1, 'a']]) } };
      s.sourceOffsets = { [partition]: '41' };
      store.remember(s, `${key}-e1`);
      return structuredClone(s);
    };

    it('packs the live keys idle past packAfterIdleMs, not a key in use, and unpacks a key exactly when it is read', () => {
      const store = packing();
      const a = fill(store, 'a', 100);
      fill(store, 'b', 100);
      fill(store, 'c', 1900);
      store.pin(['b']);
      expect(store.packIdle(2000)).toBe(1);
      expect(store.packedCount).toBe(1);
      expect(store.packIdle(2000)).toBe(0);
      expect(store.size).toBe(3);
      expect(store.has('a')).toBe(true);
      const back = store.get('a');
      expect(back).toStrictEqual(a);
      // A quiet detector's evidence is the shared empty list again.
      expect(back.evidence.entropy).toBe(NO_EVIDENCE);
      expect(store.packedCount).toBe(0);
      // The dedup ring came back with it.
      expect(store.remember(back, 'a-e1')).toBe(false);
      store.unpin(['b']);
      expect(store.packIdle(2000)).toBe(2);
      expect(store.peek('b')!.sourceOffsets).toEqual({ 0: '41' });
      expect(store.packedCount).toBe(1);
    });

    it('packs a key that paused past packAfterIdleMs before only once quiet well past its usual pause, and forgets its pauses when it leaves', () => {
      const store = packing();
      fill(store, 'a', 100);
      fill(store, 'b', 100);
      // 'a' paused 3 s before (its usual pause): packed only once quiet past four times that.
      store.notePause('a', 3000);
      expect(store.packIdle(2000)).toBe(1);
      expect(store.isPacked('a')).toBe(false);
      expect(store.isPacked('b')).toBe(true);
      expect(store.packIdle(12_100)).toBe(0);
      expect(store.packIdle(12_101)).toBe(1);
      expect(store.isPacked('a')).toBe(true);
      // A pause shorter than packAfterIdleMs is not one.
      store.get('b').lastTs = 20_000;
      store.notePause('b', 900);
      expect(store.packIdle(21_001)).toBe(1);
      // Dropped and back, 'a' starts with no pauses on record.
      store.delete('a');
      fill(store, 'a', 30_000);
      expect(store.packIdle(31_001)).toBe(1);
    });

    it('packs nothing with packAfterIdleMs 0 or unset', () => {
      for (const packAfterIdleMs of [0, undefined]) {
        const store = new KeyStateStore({ maxKeys: 10, idleEvictMs: 1e9, dedupWindow: 4, packAfterIdleMs });
        fill(store, 'a', 0);
        expect(store.packIdle(1e12)).toBe(0);
      }
    });

    it('keeps a packed key in its place in the recency order, evicts it by capacity or idleness like a live one', () => {
      const evicted: string[] = [];
      const store = new KeyStateStore({ maxKeys: 2, idleEvictMs: 5000, dedupWindow: 4, packAfterIdleMs: 1000 }, (k, reason) => evicted.push(`${k}:${reason}`));
      fill(store, 'a', 100);
      fill(store, 'b', 1500);
      store.packIdle(2000);
      expect(store.packedCount).toBe(1);
      store.get('c').lastTs = 6000;
      expect(evicted).toEqual(['a:capacity']);
      store.packIdle(3000);
      expect(store.sweepIdle(6600)).toBe(1);
      expect(evicted).toEqual(['a:capacity', 'b:idle']);
      expect(store.packedCount).toBe(0);
    });

    it('reads packed keys for snapshots, rebalances, gauges and reloads without making them live', () => {
      const store = packing();
      store.trackSaves();
      const a = fill(store, 'a', 100, '3');
      fill(store, 'b', 1900, '1');
      store.markChanged('a');
      store.packIdle(2000);
      expect(store.unsavedStates()).toStrictEqual([a]);
      expect([...store.entries()].map((s) => s.key)).toEqual(['a', 'b']);
      expect([...store.partitions()]).toEqual([
        ['a', [3]],
        ['b', [1]],
      ]);
      const views = [...store.views()];
      expect(views.map((v) => [v.key, v.risk, v.ladder.level])).toEqual([
        ['a', 0.4, 'observe'],
        ['b', 0.4, 'observe'],
      ]);
      expect(views[0].scores).toEqual({ volume: 0.4, entropy: 0 });
      store.update((s) => delete s.scores.entropy);
      expect(store.packedCount).toBe(1);
      expect(store.peek('a')!.scores).toEqual({ volume: 0.4 });
      expect(store.peek('b')!.scores).toEqual({ volume: 0.4 });
    });
  });
});
