import { describe, expect, it } from 'vitest';
import {
  committedOffsets,
  highWatermarks,
  keyStream,
  loadSnapshots,
  onCleanup,
  runConfig,
  runSetup,
  spawnProbewatch,
  testKafka,
  testProducer,
  testRedis,
  waitFor,
} from './helpers.ts';

const KEYS = 16;
const PER_KEY = 40;

describe('probewatch run on SIGTERM', () => {
  it('drains the batch in flight, commits what it applied, and exits 0', async () => {
    const setup = await runSetup('shutdown');
    const kafka = await testKafka();
    const redis = testRedis(setup.keyPrefix);
    const start = Date.now() - 3_600_000;
    const streams = Array.from({ length: KEYS }, (_, k) => keyStream(`${setup.id}-k${k}`, PER_KEY, start, 60_000));
    const keys = streams.map((s) => s.events[0].api_key);
    const chunks = Array.from({ length: PER_KEY }, (_, i) => streams.map((s) => s.messages[i]));
    const producer = await testProducer(kafka);
    const send = (messages: (typeof chunks)[number]) => producer.send({ topic: setup.topics.events, acks: -1, messages });

    const child = spawnProbewatch(runConfig(setup, { state: { dedupWindow: 2 * PER_KEY } }));
    await child.joined();
    const half = PER_KEY / 2;
    for (const chunk of chunks.slice(0, half)) await send(chunk);
    await waitFor(async () => (await child.metric('probewatch_events_processed_total')) >= KEYS, 'some events processed');
    // SIGTERM while events keep arriving.
    await send(chunks[half]);
    const sending = (async () => {
      for (const chunk of chunks.slice(half + 1)) await send(chunk);
    })();
    expect(await child.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(child.findLog('shutting down')).toMatchObject({ reason: 'SIGTERM' });
    expect(child.findLog('stopped')).toMatchObject({ code: 0 });
    await sending;

    // What it applied and what it committed are the same messages, partition by partition.
    const committed = await committedOffsets(kafka, setup.groupId, setup.topics.events);
    const snapshots = await loadSnapshots(redis, setup.keyPrefix, keys);
    const appliedUpTo = new Map<number, bigint>();
    let eventsSeen = 0;
    for (const s of snapshots.values()) {
      eventsSeen += s.eventsSeen;
      for (const [p, o] of Object.entries(s.sourceOffsets ?? {})) appliedUpTo.set(Number(p), [appliedUpTo.get(Number(p)) ?? -1n, BigInt(o)].reduce((a, b) => (a > b ? a : b)));
    }
    expect(eventsSeen).toBeGreaterThan(0);
    const committedTotal = [...committed.values()].reduce((n, o) => n + (o > 0n ? o : 0n), 0n);
    expect(committedTotal).toBe(BigInt(eventsSeen));
    for (const [p, o] of committed) expect(o, `partition ${p}`).toBe(appliedUpTo.has(p) ? appliedUpTo.get(p)! + 1n : -1n);

    // A new member of the group starts exactly after the committed offsets.
    await send(chunks[0]);
    const high = await highWatermarks(kafka, setup.topics.events);
    const consumer = kafka.consumer({ groupId: setup.groupId, sessionTimeout: 6_000, maxWaitTimeInMs: 200 });
    onCleanup(() => consumer.disconnect());
    const firstOffset = new Map<number, bigint>();
    await consumer.connect();
    await consumer.subscribe({ topics: [setup.topics.events], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (!firstOffset.has(batch.partition)) firstOffset.set(batch.partition, BigInt(batch.firstOffset()!));
      },
    });
    const pending = [...high].filter(([p, h]) => h > (committed.get(p) ?? -1n) && h > 0n).map(([p]) => p);
    expect(pending.length).toBeGreaterThan(0);
    await waitFor(() => pending.every((p) => firstOffset.has(p)), 'the new member to fetch every partition with messages left');
    for (const p of pending) {
      const c = committed.get(p) ?? -1n;
      expect(firstOffset.get(p), `partition ${p}`).toBe(c >= 0n ? c : 0n);
    }
  });
});
