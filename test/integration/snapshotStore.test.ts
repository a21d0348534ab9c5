import { describe, expect, it } from 'vitest';
import { createCompute } from '../../src/compute/createCompute.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import type { KeyState } from '../../src/state/KeyStateStore.ts';
import { RedisSnapshotStore } from '../../src/state/RedisSnapshotStore.ts';
import { burst } from '../helpers/events.ts';
import { deletePrefix, testRedis, uniqueName } from './helpers.ts';

/** Two keys' states as every default detector leaves them after some traffic. */
async function states(): Promise<KeyState[]> {
  const pipeline = new DetectionPipeline(parseConfig({}), { compute: await createCompute() });
  pipeline.processBatch([...burst('a', 60, Date.UTC(2024, 0, 1), 1_000), ...burst('b', 30, Date.UTC(2024, 0, 1), 2_000)].sort((x, y) => x.ts - y.ts));
  return ['a', 'b'].map((k) => pipeline.store.peek(k)!);
}

describe('RedisSnapshotStore (binary sections)', () => {
  it('loads what it saved, with typed arrays kept, and rewrites only the sections that changed', async () => {
    const prefix = `pwtest:${uniqueName('snapstore')}:`;
    const redis = testRedis(prefix);
    const store = new RedisSnapshotStore(redis, { keyPrefix: prefix, ttlMs: 60_000 });
    const [a, b] = await states();
    a.detectors.volume = { ...(a.detectors.volume as object), packed: new Float32Array([1.5, -2, 3.25]) };
    await store.save([a, b]);
    const sections = Object.keys(a.detectors).length + 3; // meta, ids, ref
    expect(store.stats).toMatchObject({ keys: 2 });
    expect(store.stats.sections).toBeGreaterThanOrEqual(sections);
    expect(await redis.type(store.redisKey('a'))).toBe('hash');
    expect(await redis.pttl(store.redisKey('a'))).toBeGreaterThan(0);

    const loaded = (await new RedisSnapshotStore(redis, { keyPrefix: prefix, ttlMs: 60_000 }).load(['a', 'b', 'never'])) as Map<string, KeyState>;
    expect([...loaded.keys()].sort()).toEqual(['a', 'b']);
    expect(loaded.get('a')).toEqual(a);
    expect(loaded.get('b')).toEqual(b);
    expect((loaded.get('a')!.detectors.volume as { packed: unknown }).packed).toBeInstanceOf(Float32Array);

    // Unchanged: nothing but the TTL is written. One detector changed: that section alone.
    const before = { ...store.stats };
    await store.save([a, b]);
    expect(store.stats.sections - before.sections).toBe(0);
    expect(store.stats.bytes - before.bytes).toBe(0);
    (a.detectors.entropy as { score: number }).score = 0.5;
    await store.save([a]);
    expect(store.stats.sections - before.sections).toBe(1);
    expect(((await store.load(['a'])).get('a')!.detectors.entropy as { score: number }).score).toBe(0.5);

    // A store that read the key (another instance) knows its sections too; a dropped detector's section goes.
    const other = new RedisSnapshotStore(redis, { keyPrefix: prefix, ttlMs: 60_000 });
    const mine = (await other.load(['a'])).get('a')!;
    delete mine.detectors['output-drift'];
    mine.eventsSeen++;
    await other.save([mine]);
    expect(other.stats.sections).toBe(1);
    expect(await redis.hexists(store.redisKey('a'), 'd:output-drift')).toBe(0);
    expect((await store.load(['a'])).get('a')).toEqual(mine);
  });

  it('loads a JSON snapshot of the first layout, and replaces it with the binary one at the next save', async () => {
    const prefix = `pwtest:${uniqueName('snaplegacy')}:`;
    const redis = testRedis(prefix);
    const store = new RedisSnapshotStore(redis, { keyPrefix: prefix, ttlMs: 60_000 });
    const [a] = await states();
    // What the JSON store wrote: SET state:<key> <JSON>.
    await redis.set(`${prefix}state:a`, JSON.stringify(a), 'PX', 60_000);
    await redis.set(`${prefix}state:garbled`, '{"key":', 'PX', 60_000);

    const loaded = await store.load(['a', 'garbled']);
    expect([...loaded.keys()]).toEqual(['a']);
    expect(loaded.get('a')).toEqual(JSON.parse(JSON.stringify(a)));

    // Both layouts and neither, in one load: a binary snapshot wins over a JSON one left beside it.
    const b = { ...a, key: 'b', eventsSeen: 3 };
    await new RedisSnapshotStore(redis, { keyPrefix: prefix, ttlMs: 60_000 }).save([b]);
    await redis.set(`${prefix}state:b`, JSON.stringify({ ...b, eventsSeen: 1 }), 'PX', 60_000);
    const mixed = await new RedisSnapshotStore(redis, { keyPrefix: prefix, ttlMs: 60_000 }).load(['never', 'b', 'garbled', 'a']);
    expect([...mixed.keys()].sort()).toEqual(['a', 'b']);
    expect(mixed.get('b')).toEqual(b);
    expect(mixed.get('a')!.eventsSeen).toBe(a.eventsSeen);

    const state = loaded.get('a')!;
    state.eventsSeen++;
    await store.save([state]);
    expect(await redis.exists(`${prefix}state:a`)).toBe(0);
    expect(await redis.hget(store.redisKey('a'), 'v')).toBe('1');
    expect((await store.load(['a'])).get('a')).toEqual(state);
  });

  it('loads aggregate snapshots of both layouts, and writes them binary', async () => {
    const prefix = `pwtest:${uniqueName('snapagg')}:`;
    const redis = testRedis(prefix);
    const store = new RedisSnapshotStore(redis, { keyPrefix: prefix, ttlMs: 60_000 });
    const old = { entity: 'tenant:t1', seen: 5, detectors: { aggregates: { n: 3, mean: 0.25 } } };
    await redis.set(store.aggregateKey(old.entity), JSON.stringify(old), 'PX', 60_000);
    const fresh = { entity: 'model:m1', seen: 9, detectors: { reference: { rows: new Float32Array([0.5, 2]), n: 2 } } };
    await store.saveAggregates([fresh]);
    expect((await redis.getBuffer(store.aggregateKey(fresh.entity)))![0]).not.toBe(0x7b);
    const loaded = await store.loadAggregates();
    expect(loaded.sort((x, y) => x.entity.localeCompare(y.entity))).toEqual([fresh, old]);
  });

  it('Redis emptied under it: a save of changed sections is refused with PW_STATE_LOST and writes nothing; a full save writes every section', async () => {
    const prefix = `pwtest:${uniqueName('snapepoch')}:`;
    const redis = testRedis(prefix);
    const store = new RedisSnapshotStore(redis, { keyPrefix: prefix, ttlMs: 60_000 });
    const [a, b] = await states();
    await store.save([a, b]);
    await store.saveAggregates([{ entity: 'model:m1', seen: 1, detectors: { n: 1 } }]);
    expect(await redis.exists(store.epochKey)).toBe(1);
    const fields = await redis.hkeys(store.redisKey('a'));

    // What a restarted Redis without persistence holds of this prefix: nothing.
    await deletePrefix(redis, prefix);
    a.eventsSeen++;
    await expect(store.save([a])).rejects.toMatchObject({ code: 'PW_STATE_LOST', retriable: false });
    await expect(store.saveAggregates([{ entity: 'model:m1', seen: 2, detectors: { n: 2 } }])).rejects.toMatchObject({ code: 'PW_STATE_LOST' });
    expect(await redis.keys(`${prefix}*`)).toEqual([]);

    await store.save([a, b], { full: true });
    expect((await redis.hkeys(store.redisKey('a'))).sort()).toEqual(fields.sort());
    expect(await redis.exists(store.epochKey)).toBe(1);
    const loaded = await new RedisSnapshotStore(redis, { keyPrefix: prefix, ttlMs: 60_000 }).load(['a', 'b']);
    expect(loaded.get('a')).toEqual(a);
    expect(loaded.get('b')).toEqual(b);
    // Marked again: changed sections alone from here on.
    b.eventsSeen++;
    const before = store.stats.sections;
    await store.save([b]);
    expect(store.stats.sections - before).toBe(1);
  });
});
