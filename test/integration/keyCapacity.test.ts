import { Partitioners } from 'kafkajs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AvroEventCodec } from '../../src/codec/AvroEventCodec.ts';
import { createCompute } from '../../src/compute/createCompute.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { BatchProcessor } from '../../src/pipeline/BatchProcessor.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import { KafkaRunner } from '../../src/pipeline/KafkaRunner.ts';
import { KafkaPublisher } from '../../src/sinks/KafkaPublisher.ts';
import { RedisDecisionStore } from '../../src/sinks/RedisDecisionStore.ts';
import { RedisSnapshotStore } from '../../src/state/RedisSnapshotStore.ts';
import { committedOffsets, eventCodec, highWatermarks, loadSnapshots, onCleanup, runConfig, runSetup, testEvent, testKafka, testProducer, testRedis, waitFor } from './helpers.ts';

const KEYS = 400;
const PER_KEY = 10;

/**
 * More keys active in one batch than `state.maxKeys` holds: every key of the
 * batch in hand must stay in memory until its snapshot is saved, so no
 * key's count is reset by an eviction in mid-batch.
 */
describe('key capacity below the keys of one batch', () => {
  for (const maxKeys of [50, 150]) {
    it(`maxKeys ${maxKeys} with ${KEYS} keys active per batch: every event counted once`, async () => {
      const setup = await runSetup(`cap${maxKeys}`);
      const kafka = await testKafka();
      const redis = testRedis(setup.keyPrefix);
      const config = parseConfig(runConfig(setup, { state: { maxKeys }, publish: { riskEveryEvents: 0 } }));
      const start = Date.now() - 2 * 3_600_000;
      const keys = Array.from({ length: KEYS }, (_, k) => `${setup.id}-k${k}`);
      const messages = [];
      for (let i = 0; i < PER_KEY; i++) {
        for (let k = 0; k < KEYS; k++) {
          const e = testEvent(keys[k], start + i * 60_000 + k, i, `198.51.100.${k % 200}`);
          messages.push({ key: e.api_key, value: eventCodec.encode(e), partition: 0 });
        }
      }
      // One partition: each fetch holds hundreds of keys.
      const producer = await testProducer(kafka);
      for (let i = 0; i < messages.length; i += 1_000) await producer.send({ topic: setup.topics.events, acks: -1, messages: messages.slice(i, i + 1_000) });

      const metrics = createMetrics(new Registry());
      const publisher = new KafkaPublisher(kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner }), setup.topics);
      await publisher.start();
      onCleanup(() => publisher.close());
      const processor = new BatchProcessor({
        pipeline: new DetectionPipeline(config, { compute: await createCompute(), metrics }),
        codec: new AvroEventCodec(),
        publisher,
        decisionStore: new RedisDecisionStore(redis, { keyPrefix: setup.keyPrefix, channel: setup.channel }),
        snapshots: new RedisSnapshotStore(redis, { keyPrefix: setup.keyPrefix, ttlMs: 600_000 }),
        logger: silentLogger(),
        metrics,
      });
      const runner = new KafkaRunner(kafka.consumer({ groupId: setup.groupId, maxWaitTimeInMs: 200, sessionTimeout: 6_000 }), processor, {
        topic: setup.topics.events,
        groupId: setup.groupId,
        logger: silentLogger(),
        metrics,
      });
      onCleanup(() => runner.stop());
      await runner.start();
      const high = await highWatermarks(kafka, setup.topics.events);
      expect(high.get(0)).toBe(BigInt(KEYS * PER_KEY));
      await waitFor(async () => (await committedOffsets(kafka, setup.groupId, setup.topics.events)).get(0) === high.get(0), 'every message committed', 90_000);
      await runner.stop();

      const metric = async (name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values.reduce((n, v) => n + v.value, 0);
      expect(await metric('probewatch_events_processed_total')).toBe(KEYS * PER_KEY);
      // Memory stayed at the cap: keys were evicted (after their snapshots were saved)…
      expect(await metric('probewatch_keys_evicted_total')).toBeGreaterThan(0);
      expect(await metric('probewatch_keys_tracked')).toBeLessThanOrEqual(maxKeys);
      // …and no key's count was reset: each snapshot holds all ten of its events.
      const snapshots = await loadSnapshots(redis, setup.keyPrefix, keys);
      const seen = keys.map((k) => snapshots.get(k)?.eventsSeen ?? 0);
      expect(seen.reduce((a, b) => a + b, 0)).toBe(KEYS * PER_KEY);
      expect(seen.filter((n) => n !== PER_KEY)).toEqual([]);
    });
  }
});
