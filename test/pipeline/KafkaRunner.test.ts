import type { Consumer, EachBatchPayload } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { AvroEventCodec } from '../../src/codec/AvroEventCodec.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { ProbewatchError } from '../../src/errors.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { BatchProcessor } from '../../src/pipeline/BatchProcessor.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import { KafkaRunner } from '../../src/pipeline/KafkaRunner.ts';
import { InMemorySink } from '../../src/sinks/InMemorySink.ts';
import type { KeyState } from '../../src/state/KeyStateStore.ts';
import { burst } from '../helpers/events.ts';

const codec = new AvroEventCodec();
const config = parseConfig({ detectors: { volume: {} }, publish: { riskEveryEvents: 1 } });

/** The part of a KafkaJS consumer the runner uses, recording commits and seeks. */
class FakeConsumer {
  readonly events = { GROUP_JOIN: 'join', REBALANCING: 'rebalancing', CRASH: 'crash' };
  readonly commits: { partition: number; offset: string }[] = [];
  readonly seeks: { partition: number; offset: string }[] = [];
  private readonly handlers = new Map<string, (e: unknown) => void>();
  eachBatch!: (p: EachBatchPayload) => Promise<void>;
  on(event: string, handler: (e: unknown) => void) {
    this.handlers.set(event, handler);
  }
  emit(event: string, e: unknown) {
    this.handlers.get(event)?.(e);
  }
  async connect() {}
  async subscribe() {}
  async disconnect() {}
  async run(options: { eachBatch: (p: EachBatchPayload) => Promise<void> }) {
    this.eachBatch = options.eachBatch;
  }
  seek({ partition, offset }: { partition: number; offset: string }) {
    this.seeks.push({ partition, offset });
  }
  async commitOffsets(offsets: { partition: number; offset: string }[]) {
    this.commits.push(...offsets.map(({ partition, offset }) => ({ partition, offset })));
  }
  /** One fetch of `events` at `firstOffset` on partition 0, as KafkaJS hands it to eachBatch. */
  batch(events: ReturnType<typeof burst>, firstOffset: number) {
    const messages = events.map((e, i) => ({ offset: String(firstOffset + i), value: codec.encode(e), key: null, timestamp: '0', attributes: 0, headers: {} }));
    return this.eachBatch({
      batch: { topic: 'ev', partition: 0, messages, highWatermark: String(firstOffset + events.length) },
      heartbeat: async () => {},
      isRunning: () => true,
      isStale: () => false,
      resolveOffset: () => {},
      commitOffsetsIfNecessary: async (o?: { topics: { partitions: { partition: number; offset: string }[] }[] }) => {
        for (const t of o?.topics ?? []) this.commits.push(...t.partitions.map(({ partition, offset }) => ({ partition, offset })));
      },
    } as unknown as EachBatchPayload);
  }
}

describe('KafkaRunner with snapshots per interval', () => {
  it('commits only what a snapshot holds, and after a failed batch reads again from where the snapshots end', async () => {
    const saved = new Map<string, string>();
    let failPublish = false;
    const processor = new BatchProcessor({
      pipeline: new DetectionPipeline(config, { compute: { backend: 'none' } as Compute }),
      codec,
      publisher: {
        publish: async () => {
          if (failPublish) throw new ProbewatchError('PW_SINK', 'rejected', { retriable: false });
        },
      },
      decisionStore: new InMemorySink(),
      snapshots: {
        load: async (keys: readonly string[]) => new Map(keys.filter((k) => saved.has(k)).map((k) => [k, JSON.parse(saved.get(k)!) as KeyState])),
        save: async (states: readonly KeyState[]) => void states.forEach((s) => saved.set(s.key, JSON.stringify(s))),
      },
      logger: silentLogger(),
      now: () => 5,
      snapshotEveryMs: 60_000,
    });
    const consumer = new FakeConsumer();
    const runner = new KafkaRunner(consumer as unknown as Consumer, processor, { topic: 'ev', groupId: 'g', logger: silentLogger() });
    await runner.start();
    consumer.emit('join', { payload: { memberId: 'm', memberAssignment: { ev: [0] } } });
    const events = burst('k', 30, 0, 1_000);

    await consumer.batch(events.slice(0, 10), 0);
    await consumer.batch(events.slice(10, 20), 10);
    // The first batch was snapshotted (and committed); the second is in memory only.
    expect(consumer.commits).toEqual([{ partition: 0, offset: '10' }]);
    expect((JSON.parse(saved.get('k')!) as KeyState).eventsSeen).toBe(10);

    failPublish = true;
    await expect(consumer.batch(events.slice(20), 20)).rejects.toMatchObject({ code: 'PW_SINK' });
    // Memory (20 events) is dropped; offset 10 on is read again, or events 10..19 would be lost.
    expect(consumer.seeks).toEqual([{ partition: 0, offset: '10' }]);

    failPublish = false;
    await consumer.batch(events.slice(10), 10);
    await runner.stop();
    expect((JSON.parse(saved.get('k')!) as KeyState).eventsSeen).toBe(30);
    // The stop took a last snapshot and committed it.
    expect(consumer.commits.at(-1)).toEqual({ partition: 0, offset: '30' });
  });
});
