import { Partitioners } from 'kafkajs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AvroEventCodec } from '../../src/codec/AvroEventCodec.ts';
import { riskScoreCodec } from '../../src/codec/contractCodecs.ts';
import { createCompute } from '../../src/compute/createCompute.ts';
import type { Config } from '../../src/config/configSchema.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import type { InferenceEvent } from '../../src/contract.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { BatchProcessor } from '../../src/pipeline/BatchProcessor.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import { KafkaRunner } from '../../src/pipeline/KafkaRunner.ts';
import { KafkaPublisher } from '../../src/sinks/KafkaPublisher.ts';
import { RedisDecisionStore } from '../../src/sinks/RedisDecisionStore.ts';
import type { KeyState } from '../../src/state/KeyStateStore.ts';
import { RedisSnapshotStore } from '../../src/state/RedisSnapshotStore.ts';
import {
  type RunSetup,
  TopicCollector,
  committedOffsets,
  ensureTopic,
  highWatermarks,
  keyStream,
  loadSnapshots,
  runConfig,
  runSetup,
  spawnProbewatch,
  testKafka,
  testProducer,
  testRedis,
  waitFor,
  onCleanup,
} from './helpers.ts';

const KEYS = 24;
const PER_KEY = 40;
const CHUNK = 24;

/** The events of every key, interleaved as gateways would send them. */
function interleavedStream(prefix: string) {
  const start = Date.now() - 60 * 60_000;
  const streams = Array.from({ length: KEYS }, (_, k) => keyStream(`${prefix}-k${k}`, PER_KEY, start + k, 60_000));
  const messages = [];
  for (let i = 0; i < PER_KEY; i++) for (const s of streams) messages.push(s.messages[i]);
  const byKey = new Map<string, InferenceEvent[]>(streams.map((s) => [s.events[0].api_key, s.events]));
  return { messages, byKey };
}

describe('probewatch run across a crash', () => {
  it('SIGKILLed mid-stream, the next instance in the group loses no event and counts none twice', async () => {
    const setup = await runSetup('crash');
    const kafka = await testKafka();
    const redis = testRedis(setup.keyPrefix);
    const { messages, byKey } = interleavedStream(setup.id);
    const keys = [...byKey.keys()];
    // The event-id ring off: only the per-partition offsets in the snapshots keep a redelivered event from counting twice.
    const config = runConfig(setup, { publish: { riskEveryEvents: PER_KEY }, state: { dedupWindow: 0 } });
    const chunks = Array.from({ length: Math.ceil(messages.length / CHUNK) }, (_, i) => messages.slice(i * CHUNK, (i + 1) * CHUNK));
    const producer = await testProducer(kafka);
    const send = (chunk: typeof messages) => producer.send({ topic: setup.topics.events, acks: -1, messages: chunk });
    await ensureTopic(kafka, setup.topics.events);
    const risk = await TopicCollector.start(kafka, setup.topics.risk);

    // The first instance starts with a backlog and is killed while it works through it, the rest still being produced.
    const half = Math.floor(chunks.length / 2);
    for (const chunk of chunks.slice(0, half)) await send(chunk);
    const first = spawnProbewatch(config);
    const applied = async () => [...(await loadSnapshots(redis, setup.keyPrefix, keys)).values()].reduce((n, s) => n + s.eventsSeen, 0);
    await waitFor(async () => (await applied()) >= CHUNK, () => `the first instance to apply some events\n${first.tail()}`, 90_000, 10);
    const sending = (async () => {
      for (const chunk of chunks.slice(half)) await send(chunk);
    })();
    expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    const appliedAtKill = await applied();
    expect(appliedAtKill).toBeGreaterThan(0);
    expect(appliedAtKill).toBeLessThan(messages.length);

    const second = spawnProbewatch(config);
    await sending;
    const snapshots = await everyKeyComplete(redis, setup, keys, second);
    expect(await second.metric('probewatch_events_in_total')).toBeGreaterThan(0);

    for (const [key, events] of byKey) {
      const state = snapshots.get(key)!;
      // Exactly one count per event (the ring is off: a redelivered event would count again)…
      expect(state.eventsSeen, key).toBe(events.length);
      expect(state.recentIds, key).toEqual([]);
      // …and the key's last event was applied.
      expect(state.lastTs, key).toBe(events.at(-1)!.ts);
    }
    // The published scores agree: each key's last RiskScore counts all its events, none counts more.
    await waitFor(() => keys.every((k) => risk.messages.some((m) => m.message.key!.toString() === k && riskScoreCodec.decode(m.message.value!).events_seen === PER_KEY)), 'final RiskScores');
    expect(Math.max(...risk.messages.map((m) => riskScoreCodec.decode(m.message.value!).events_seen))).toBe(PER_KEY);

    await committedEverything(kafka, setup);
    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('a batch redelivered after its snapshot was saved but before its commit is applied once', async () => {
    const setup = await runSetup('crash-window');
    const kafka = await testKafka();
    const redis = testRedis(setup.keyPrefix);
    const config = parseConfig(runConfig(setup, { publish: { riskEveryEvents: 10 }, state: { dedupWindow: 0 } }));
    const streams = [0, 1, 2].map((k) => keyStream(`${setup.id}-k${k}`, 30, Date.now() - 3_600_000, 60_000));
    const keys = streams.map((s) => s.events[0].api_key);
    const producer = await testProducer(kafka);
    await producer.send({ topic: setup.topics.events, acks: -1, messages: streams.flatMap((s) => s.messages.slice(0, 20)) });
    const risk = await TopicCollector.start(kafka, setup.topics.risk);

    // The first instance processes every batch (outputs published, snapshots saved) and dies before committing any.
    const crashed = await instance(kafka, redis, config, setup);
    const consumer = kafka.consumer({ groupId: setup.groupId, maxWaitTimeInMs: 200, sessionTimeout: 6_000 });
    await consumer.connect();
    await consumer.subscribe({ topics: [setup.topics.events], fromBeginning: true });
    let processed = 0;
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        processed += (await crashed.processor.process({ topic: batch.topic, partition: batch.partition, messages: batch.messages })).applied;
      },
    });
    await waitFor(() => processed === 60, 'the first instance to process 60 events');
    await consumer.disconnect();
    expect(await committedOffsets(kafka, setup.groupId, setup.topics.events)).toSatisfy((c: Map<number, bigint>) => [...c.values()].every((o) => o < 0n));
    await waitFor(() => risk.messages.length === 6, 'RiskScores at events 10 and 20 of each key');

    // The next owner gets all 60 again, skips them by their offsets, then applies what is new.
    const next = await instance(kafka, redis, config, setup);
    const runner = new KafkaRunner(kafka.consumer({ groupId: setup.groupId, maxWaitTimeInMs: 200, sessionTimeout: 6_000 }), next.processor, { topic: setup.topics.events, groupId: setup.groupId, logger: silentLogger() });
    onCleanup(() => runner.stop());
    await runner.start();
    const metric = async (name: string) => (await next.metrics.registry.getSingleMetric(name)!.get()).values.reduce((n, v) => n + v.value, 0);
    await waitFor(async () => (await metric('probewatch_events_duplicate_total')) === 60, 'the redelivered batch to be skipped');
    await producer.send({ topic: setup.topics.events, acks: -1, messages: streams.flatMap((s) => s.messages.slice(20)) });
    const snapshots = await waitFor(async () => {
      const s = await loadSnapshots(redis, setup.keyPrefix, keys);
      return keys.every((k) => s.get(k)?.eventsSeen === 30) && s;
    }, 'every key at 30 events');
    expect(await metric('probewatch_events_processed_total')).toBe(30);
    expect(await metric('probewatch_events_duplicate_total')).toBe(60);
    await waitFor(() => risk.messages.length >= 9, 'RiskScores at event 30');
    const counts = risk.messages.map((m) => `${m.message.key}@${riskScoreCodec.decode(m.message.value!).events_seen}`).sort();
    expect(counts).toEqual(keys.flatMap((k) => [10, 20, 30].map((n) => `${k}@${n}`)).sort());
    await runner.stop();
    const committed = await committedOffsets(kafka, setup.groupId, setup.topics.events);
    for (const [p, h] of await highWatermarks(kafka, setup.topics.events)) if (h > 0n) expect(committed.get(p), `partition ${p}`).toBe(h);
  });

  it('SIGKILLed between a batch’s snapshot and its commit (fault point), with the event-id ring off: every event counted once', async () => {
    const setup = await runSetup('crash-fault');
    const kafka = await testKafka();
    const redis = testRedis(setup.keyPrefix);
    const { messages, byKey } = interleavedStream(setup.id);
    const keys = [...byKey.keys()];
    const config = runConfig(setup, { publish: { riskEveryEvents: PER_KEY }, state: { dedupWindow: 0 } });
    const producer = await testProducer(kafka);
    const send = (part: typeof messages) => producer.send({ topic: setup.topics.events, acks: -1, messages: part });
    const half = Math.floor(messages.length / 2);
    for (let i = 0; i < half; i += CHUNK * 4) await send(messages.slice(i, Math.min(half, i + CHUNK * 4)));

    // The second batch stops after its snapshots are saved and before its offsets are committed; it is killed there.
    const first = spawnProbewatch(config, { PROBEWATCH_TEST_FAULT: 'after-snapshot:2' });
    await waitFor(() => first.findLog('fault point reached'), () => `the fault point\n${first.tail()}`, 90_000);
    expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    // Inside the window: the snapshots hold events whose offsets were not committed.
    const saved = [...(await loadSnapshots(redis, setup.keyPrefix, keys)).values()].reduce((n, s) => n + s.eventsSeen, 0);
    const committed = [...(await committedOffsets(kafka, setup.groupId, setup.topics.events)).values()].reduce((n, o) => n + (o > 0n ? Number(o) : 0), 0);
    expect(saved).toBeGreaterThan(committed);

    const second = spawnProbewatch(config);
    await send(messages.slice(half));
    const snapshots = await everyKeyComplete(redis, setup, keys, second);
    await committedEverything(kafka, setup);
    expectEachEventOnce(snapshots, byKey);
    // The redelivered batch was recognised by its offsets.
    expect(await second.metric('probewatch_events_duplicate_total')).toBeGreaterThan(0);
    expect(await second.metric('probewatch_events_processed_total')).toBe(messages.length - saved);
    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('SIGKILLed between two interval snapshots (state.snapshotEveryMs), with the event-id ring off: commits never ran ahead of the snapshots, and every event is counted once', async () => {
    const setup = await runSetup('crash-interval');
    const kafka = await testKafka();
    const redis = testRedis(setup.keyPrefix);
    const { messages, byKey } = interleavedStream(setup.id);
    const keys = [...byKey.keys()];
    const settings = { publish: { riskEveryEvents: PER_KEY }, state: { dedupWindow: 0 } };
    const producer = await testProducer(kafka);
    const send = (part: typeof messages) => producer.send({ topic: setup.topics.events, acks: -1, messages: part });
    const half = Math.floor(messages.length / 2);
    await send(messages.slice(0, half));

    // The first instance snapshots at its first batch, then not for 30 s: it is killed with memory ahead of the snapshots.
    const first = spawnProbewatch(runConfig(setup, { ...settings, state: { ...settings.state, snapshotEveryMs: 30_000 } }));
    const saved = async () => [...(await loadSnapshots(redis, setup.keyPrefix, keys)).values()].reduce((n, s) => n + s.eventsSeen, 0);
    let processed = 0;
    await waitFor(
      async () => (await saved()) > 0 && (processed = await first.metric('probewatch_events_processed_total')) > (await saved()),
      () => `the first instance to apply events past its first snapshot\n${first.tail()}`,
      90_000,
    );
    expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    const savedAtKill = await saved();
    const committed = [...(await committedOffsets(kafka, setup.groupId, setup.topics.events)).values()].reduce((n, o) => n + (o > 0n ? Number(o) : 0), 0);
    // Between two snapshots: memory held more than the snapshots, and the commits held no more than them.
    expect(processed).toBeGreaterThan(savedAtKill);
    expect(committed).toBeLessThanOrEqual(savedAtKill);

    const second = spawnProbewatch(runConfig(setup, settings));
    await send(messages.slice(half));
    const snapshots = await everyKeyComplete(redis, setup, keys, second);
    expectEachEventOnce(snapshots, byKey);
    // The second instance applied exactly what the snapshots lacked; what they held was skipped by its offsets.
    expect(await second.metric('probewatch_events_processed_total')).toBe(messages.length - savedAtKill);
    expect(await second.metric('probewatch_events_duplicate_total')).toBe(savedAtKill - committed);
    await committedEverything(kafka, setup);
    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});

/** Waits until every key's snapshot holds its PER_KEY events; the snapshots then. */
function everyKeyComplete(redis: ReturnType<typeof testRedis>, setup: RunSetup, keys: readonly string[], child: ReturnType<typeof spawnProbewatch>) {
  return waitFor(async () => {
    const s = await loadSnapshots(redis, setup.keyPrefix, keys);
    return keys.every((k) => (s.get(k)?.eventsSeen ?? 0) >= PER_KEY) && s;
  }, () => `every key at ${PER_KEY} events\n${child.tail()}`, 120_000);
}

/** Waits until the group committed every partition of the events topic up to its end. */
async function committedEverything(kafka: Awaited<ReturnType<typeof testKafka>>, setup: RunSetup): Promise<void> {
  const high = await highWatermarks(kafka, setup.topics.events);
  await waitFor(async () => {
    const c = await committedOffsets(kafka, setup.groupId, setup.topics.events);
    return [...high].every(([p, h]) => h === 0n || c.get(p) === h);
  }, 'the group committed everything');
}

/** Each key's snapshot counts each of its events once, the last one applied. */
function expectEachEventOnce(snapshots: Map<string, KeyState>, byKey: Map<string, InferenceEvent[]>): void {
  for (const [key, events] of byKey) {
    expect(snapshots.get(key)!.eventsSeen, key).toBe(events.length);
    expect(snapshots.get(key)!.lastTs, key).toBe(events.at(-1)!.ts);
  }
}

/** The `run` stack in this process, on the real broker and Redis. */
async function instance(kafka: Awaited<ReturnType<typeof testKafka>>, redis: ReturnType<typeof testRedis>, config: Readonly<Config>, setup: RunSetup) {
  const metrics = createMetrics(new Registry());
  const publisher = new KafkaPublisher(kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner }), setup.topics);
  await publisher.start();
  onCleanup(() => publisher.close());
  const processor = new BatchProcessor({
    pipeline: new DetectionPipeline(config, { compute: await createCompute(), metrics }),
    codec: new AvroEventCodec(),
    publisher,
    decisionStore: new RedisDecisionStore(redis, { keyPrefix: setup.keyPrefix, channel: setup.channel }),
    snapshots: new RedisSnapshotStore(redis, { keyPrefix: setup.keyPrefix, ttlMs: 60_000 }),
    logger: silentLogger(),
    metrics,
  });
  return { processor, metrics };
}
