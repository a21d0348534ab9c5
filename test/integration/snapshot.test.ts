import { describe, expect, it } from 'vitest';
import { keyStream, loadSnapshots, runConfig, runSetup, spawnProbewatch, testKafka, testProducer, testRedis, waitFor } from './helpers.ts';
import { eventIdDigest } from '../../src/state/KeyStateStore.ts';

const KEYS = 16;
const PER_PHASE = 20;

describe('probewatch run across a rebalance', () => {
  it('moves key state between instances through the snapshots, counting every event once', async () => {
    const setup = await runSetup('rebalance');
    const kafka = await testKafka();
    const redis = testRedis(setup.keyPrefix);
    const start = Date.now() - 3_600_000;
    const streams = Array.from({ length: KEYS }, (_, k) => keyStream(`${setup.id}-k${k}`, 2 * PER_PHASE, start, 60_000));
    const keys = streams.map((s) => s.events[0].api_key);
    const producer = await testProducer(kafka);
    const config = runConfig(setup, { state: { dedupWindow: 4 * PER_PHASE } });
    const allAt = (n: number) => async () => {
      const s = await loadSnapshots(redis, setup.keyPrefix, keys);
      return keys.every((k) => s.get(k)?.eventsSeen === n) && s;
    };

    const a = spawnProbewatch(config);
    await a.joined();
    await producer.send({ topic: setup.topics.events, acks: -1, messages: streams.flatMap((s) => s.messages.slice(0, PER_PHASE)) });
    await waitFor(allAt(PER_PHASE), 'every key at the first phase count');

    // A second member joins: the group rebalances and the partitions are split between the two.
    const b = spawnProbewatch(config);
    const owned = (p: typeof a) => (p.logs.filter((l) => l.msg === 'joined consumer group').at(-1)?.partitions ?? []) as number[];
    await waitFor(
      () => owned(a).length > 0 && owned(b).length > 0 && [...owned(a), ...owned(b)].sort().join() === '0,1,2,3',
      () => `both members to share the partitions\n${a.tail(5)}\n${b.tail(5)}`,
      120_000,
    );

    await producer.send({ topic: setup.topics.events, acks: -1, messages: streams.flatMap((s) => s.messages.slice(PER_PHASE)) });
    const snapshots = await waitFor(allAt(2 * PER_PHASE), () => `every key at the full count\n${a.tail(5)}\n${b.tail(5)}`);
    for (const [i, s] of streams.entries()) expect(new Set(snapshots.get(keys[i])!.recentIds)).toEqual(new Set(s.events.map((e) => eventIdDigest(e.event_id))));

    // The newcomer continued from the snapshots of the keys that moved; the first member kept the keys of the partitions it kept.
    expect(await b.metric('probewatch_state_snapshots_restored_total')).toBeGreaterThan(0);
    const kept = a.logs.filter((l) => l.msg === 'rebalance: kept the keys of partitions this member kept, dropped the others');
    expect(kept.length, a.tail(10)).toBeGreaterThan(0);
    // What it kept depends on how the mock cluster settles the group (it may move a partition away and back, whose keys
    // are then rightly reloaded): the partitions it lost were dropped, the retained path (not a full reset) was taken.
    expect(kept.some((l) => (l.dropped as number) > 0), a.tail(10)).toBe(true);
    // Between them every event went through the detectors once.
    const processed = (await a.metric('probewatch_events_processed_total')) + (await b.metric('probewatch_events_processed_total'));
    expect(processed).toBe(2 * KEYS * PER_PHASE);

    const [exitA, exitB] = await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')]);
    expect(exitA).toEqual({ code: 0, signal: null });
    expect(exitB).toEqual({ code: 0, signal: null });
  });
});
