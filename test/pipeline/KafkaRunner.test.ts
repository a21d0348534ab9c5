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
  readonly resolved: string[] = [];
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
  batch(events: ReturnType<typeof burst>, firstOffset: number, isStale = () => false) {
    const messages = events.map((e, i) => ({ offset: String(firstOffset + i), value: codec.encode(e), key: null, timestamp: '0', attributes: 0, headers: {} }));
    return this.eachBatch({
      batch: { topic: 'ev', partition: 0, messages, highWatermark: String(firstOffset + events.length) },
      heartbeat: async () => {},
      isRunning: () => true,
      isStale,
      resolveOffset: (offset: string) => void this.resolved.push(offset),
      commitOffsetsIfNecessary: async (o?: { topics: { partitions: { partition: number; offset: string }[] }[] }) => {
        for (const t of o?.topics ?? []) this.commits.push(...t.partitions.map(({ partition, offset }) => ({ partition, offset })));
      },
    } as unknown as EachBatchPayload);
  }
}

describe('KafkaRunner with snapshots per interval', () => {
  it('commits only what a snapshot holds; a failed batch keeps memory, seeks nowhere, and every event is scored once', async () => {
    const saved = new Map<string, string>();
    let failPublish: ProbewatchError | undefined;
    const scored: number[] = [];
    const pipeline = new DetectionPipeline(config, { compute: { backend: 'none' } as Compute });
    const processor = new BatchProcessor({
      pipeline,
      codec,
      publisher: {
        publish: async (out) => {
          if (failPublish) throw failPublish;
          scored.push(...out.risk.map((r) => r.events_seen));
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

    // Kafka refuses the outputs until the batch goes stale (a rebalance): the batch fails, retriably.
    failPublish = new ProbewatchError('PW_SINK', 'kafka down', { retriable: true });
    let checks = 0;
    await consumer.batch(events.slice(20), 20, () => checks++ > 0);
    // Nothing dropped, nothing sought, nothing resolved: KafkaJS reads offset 20 on again.
    expect(consumer.seeks).toEqual([]);
    expect(consumer.resolved).toEqual(['9', '19']);
    expect(pipeline.store.peek('k')!.eventsSeen).toBe(30);

    failPublish = undefined;
    await consumer.batch(events.slice(20), 20);
    expect(scored).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    await runner.stop();
    expect((JSON.parse(saved.get('k')!) as KeyState).eventsSeen).toBe(30);
    // The stop took a last snapshot and committed it.
    expect(consumer.commits.at(-1)).toEqual({ partition: 0, offset: '30' });

    // An error no retry can fix is the consumer's to restart on (which drops memory).
    failPublish = new ProbewatchError('PW_SINK', 'rejected', { retriable: false });
    await expect(consumer.batch(burst('k', 1, 50_000, 1), 30)).rejects.toMatchObject({ code: 'PW_SINK' });
  });
});
