import { Writable } from 'node:stream';
import { Partitioners } from 'kafkajs';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AvroEventCodec } from '../../src/codec/AvroEventCodec.ts';
import { createCompute } from '../../src/compute/createCompute.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { BatchProcessor } from '../../src/pipeline/BatchProcessor.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import { KafkaRunner } from '../../src/pipeline/KafkaRunner.ts';
import { adminPartitionOffsets } from '../../src/pipeline/kafkaClient.ts';
import { KafkaPublisher } from '../../src/sinks/KafkaPublisher.ts';
import { RedisDecisionStore } from '../../src/sinks/RedisDecisionStore.ts';
import { RedisSnapshotStore } from '../../src/state/RedisSnapshotStore.ts';
import { buildEvent } from '../../src/gateway/buildEvent.ts';
import { committedOffsets, eventCodec, onCleanup, runConfig, runSetup, testKafka, testProducer, testRedis, waitFor } from './helpers.ts';

const FIRST = 50;
/** About 1 kB each: 12 MB in one partition, well past the mock broker's ~5 MB. */
const BACKLOG = 12_000;

describe('offset reset past the committed offset', () => {
  it('the messages the broker trimmed before they were consumed are counted and logged once with the skipped range', async () => {
    const setup = await runSetup('reset');
    const kafka = await testKafka();
    const redis = testRedis(setup.keyPrefix);
    const config = parseConfig(runConfig(setup, { publish: { riskEveryEvents: 0 } }));
    const compute = await createCompute();
    const volumeOnly = new DetectionPipeline(config, { compute }).detectors.filter((d) => d.name === 'volume');
    const admin = kafka.admin();
    await admin.connect();
    onCleanup(() => admin.disconnect());
    const start = Date.now() - 3_600_000;
    const sketch = Array.from({ length: 200 }, (_, i) => (i % 17) / 17);
    const message = (i: number) => {
      const e = { ...buildEvent({ apiKey: `${setup.id}-k${i % 20}`, modelId: 'm1', input: `${setup.id}/${i}`, probs: [0.3, 0.7], clientIp: '203.0.113.9', ts: start + i * 100, tenant: 'acme' }), input_sketch: sketch };
      return { key: e.api_key, value: eventCodec.encode(e), partition: 0 };
    };
    const producer = await testProducer(kafka);

    const instance = () => {
      const metrics = createMetrics(new Registry());
      const logs: Record<string, unknown>[] = [];
      const sink = new Writable({ write: (chunk, _enc, done) => (logs.push(JSON.parse(String(chunk))), done()) });
      const logger = pino({ level: 'info' }, sink);
      const publisher = new KafkaPublisher(kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner }), setup.topics);
      const processor = new BatchProcessor({
        pipeline: new DetectionPipeline(config, { compute, metrics, detectors: volumeOnly }),
        codec: new AvroEventCodec(),
        publisher,
        decisionStore: new RedisDecisionStore(redis, { keyPrefix: setup.keyPrefix, channel: setup.channel }),
        snapshots: new RedisSnapshotStore(redis, { keyPrefix: setup.keyPrefix, ttlMs: 600_000 }),
        logger,
        metrics,
      });
      const runner = new KafkaRunner(kafka.consumer({ groupId: setup.groupId, maxWaitTimeInMs: 200, sessionTimeout: 6_000 }), processor, {
        topic: setup.topics.events,
        groupId: setup.groupId,
        logger,
        metrics,
        offsets: adminPartitionOffsets(admin, setup.groupId),
      });
      onCleanup(() => runner.stop());
      onCleanup(() => publisher.close());
      const metric = async (name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values.reduce((n, v) => n + v.value, 0);
      return { runner, publisher, logs, metric };
    };

    // The group consumes and commits the first messages…
    await producer.send({ topic: setup.topics.events, acks: -1, messages: Array.from({ length: FIRST }, (_, i) => message(i)) });
    const first = instance();
    await first.publisher.start();
    await first.runner.start();
    await waitFor(async () => (await committedOffsets(kafka, setup.groupId, setup.topics.events)).get(0) === BigInt(FIRST), 'the first messages committed');
    await first.runner.stop();
    expect(await first.metric('probewatch_offsets_skipped_total')).toBe(0);

    // …then, while no member runs, more arrives than the broker keeps: it trims past the committed offset.
    for (let i = FIRST; i < FIRST + BACKLOG; i += 500) {
      await producer.send({ topic: setup.topics.events, acks: -1, messages: Array.from({ length: 500 }, (_, j) => message(i + j)) });
    }
    const [p0] = (await admin.fetchTopicOffsets(setup.topics.events)).filter((p) => p.partition === 0);
    const low = BigInt(p0.low);
    expect(low).toBeGreaterThan(BigInt(FIRST));
    expect(BigInt(p0.high)).toBe(BigInt(FIRST + BACKLOG));

    const second = instance();
    await second.publisher.start();
    await second.runner.start();
    await waitFor(async () => (await committedOffsets(kafka, setup.groupId, setup.topics.events)).get(0) === BigInt(FIRST + BACKLOG), 'the rest committed', 90_000);
    await second.runner.stop();
    // Every message from the old committed offset up to the log start was skipped, and said so.
    expect(await second.metric('probewatch_offsets_skipped_total')).toBe(Number(low) - FIRST);
    expect(await second.metric('probewatch_offset_resets_total')).toBe(1);
    const said = second.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('offset reset'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ topic: setup.topics.events, partition: 0, from: String(FIRST), to: String(low - 1n) });
    expect(await second.metric('probewatch_events_processed_total')).toBe(FIRST + BACKLOG - Number(low));
  });
});
