import { describe, expect, it } from 'vitest';
import { AvroEventCodec } from '../../src/codec/AvroEventCodec.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import type { Decision } from '../../src/contract.ts';
import { ProbewatchError } from '../../src/errors.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { BatchProcessor } from '../../src/pipeline/BatchProcessor.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import type { KafkaOutputs } from '../../src/sinks/KafkaPublisher.ts';
import { InMemorySink } from '../../src/sinks/InMemorySink.ts';
import type { KeyState } from '../../src/state/KeyStateStore.ts';
import { burst } from '../helpers/events.ts';

const codec = new AvroEventCodec();
const config = parseConfig({ detectors: { volume: {} }, publish: { riskEveryEvents: 10 } });

/** Snapshots kept as JSON text, like Redis keeps them. */
class JsonSnapshots {
  readonly saved = new Map<string, string>();
  saves = 0;
  async load(keys: readonly string[]) {
    return new Map(keys.filter((k) => this.saved.has(k)).map((k) => [k, JSON.parse(this.saved.get(k)!) as KeyState]));
  }
  async save(states: readonly KeyState[]) {
    this.saves++;
    for (const s of states) this.saved.set(s.key, JSON.stringify(s));
  }
  eventsSeen(key: string): number | undefined {
    const raw = this.saved.get(key);
    return raw ? (JSON.parse(raw) as KeyState).eventsSeen : undefined;
  }
}

const compute = { backend: 'none' } as Compute;
const volumeOnly = new DetectionPipeline(config, { compute }).detectors.filter((d) => d.name === 'volume');

/** A fresh process: new pipeline and memory, shared snapshots and sinks. */
function instance(snapshots: JsonSnapshots, decisionStore: { publish(d: readonly Decision[]): Promise<void> } = new InMemorySink<Decision>()) {
  const metrics = createMetrics();
  const pipeline = new DetectionPipeline(config, { compute, metrics, detectors: volumeOnly });
  const kafka = new InMemorySink<KafkaOutputs>();
  const publisher = { publish: (out: KafkaOutputs) => kafka.publish([out]) };
  const processor = new BatchProcessor({ pipeline, codec, publisher, decisionStore, snapshots, logger: silentLogger(), metrics, now: () => 7 });
  return { processor, pipeline, metrics, kafka, redis: decisionStore as InMemorySink<Decision> };
}

function messages(events: ReturnType<typeof burst>, firstOffset: number) {
  return events.map((e, i) => ({ offset: String(firstOffset + i), value: codec.encode(e) }));
}

const risk = (sink: InMemorySink<KafkaOutputs>) => sink.items.flatMap((o) => o.risk);

describe('BatchProcessor', () => {
  it('publishes outputs and dead letters, then snapshots state with the offsets it applied', async () => {
    const snapshots = new JsonSnapshots();
    const { processor, kafka, redis, metrics } = instance(snapshots);
    const msgs = [...messages(burst('attacker', 120, 0, 100), 0), { offset: '120', value: Buffer.from('junk') }];
    const result = await processor.process({ topic: 'ev', partition: 1, messages: msgs });
    expect(result).toEqual({ applied: 120, skipped: 0, deadLetters: 1, lastOffset: '120' });
    expect(risk(kafka).at(-1)).toMatchObject({ api_key: 'attacker', events_seen: 120 });
    expect(kafka.items.flatMap((o) => o.deadLetters).map((d) => [d.offset, d.error_code])).toEqual([['120', 'PW_DECODE_FRAMING']]);
    expect(redis.items.length).toBeGreaterThan(0);
    expect(kafka.items.flatMap((o) => o.decisions)).toEqual(redis.items);
    const saved = JSON.parse(snapshots.saved.get('attacker')!) as KeyState;
    expect(saved.eventsSeen).toBe(120);
    expect(saved.sourceOffsets).toEqual({ '1': '119' });
    expect((await metrics.registry.getSingleMetric('probewatch_dead_letters_total')!.get()).values[0].value).toBe(1);
  });

  it('applies a batch redelivered after a crash exactly once', async () => {
    const snapshots = new JsonSnapshots();
    const events = burst('k', 40, 0, 1_000);
    await instance(snapshots).processor.process({ topic: 'ev', partition: 0, messages: messages(events.slice(0, 30), 0) });
    expect(snapshots.eventsSeen('k')).toBe(30);

    // The first instance died before committing: the next owner gets offsets 20..39 again.
    const next = instance(snapshots);
    const result = await next.processor.process({ topic: 'ev', partition: 0, messages: messages(events.slice(20), 20) });
    expect(result).toMatchObject({ applied: 10, skipped: 10 });
    expect(snapshots.eventsSeen('k')).toBe(40);
    expect(risk(next.kafka).map((s) => s.events_seen)).toEqual([40]);
    // The offsets of another partition are not confused with this one's.
    const other = await next.processor.process({ topic: 'ev', partition: 3, messages: messages(burst('k', 1, 50_000, 1), 5) });
    expect(other).toMatchObject({ applied: 1, skipped: 0 });
  });

  it('reloads keys from their snapshots after a reset', async () => {
    const snapshots = new JsonSnapshots();
    const { processor, pipeline } = instance(snapshots);
    const events = burst('k', 20, 0, 1_000);
    await processor.process({ topic: 'ev', partition: 0, messages: messages(events.slice(0, 10), 0) });
    processor.reset();
    expect(pipeline.store.size).toBe(0);
    await processor.process({ topic: 'ev', partition: 0, messages: messages(events.slice(10), 10) });
    expect(snapshots.eventsSeen('k')).toBe(20);
  });

  it('after a rebalance keeps the keys of partitions it kept in memory and reloads the others from their snapshots', async () => {
    const snapshots = new JsonSnapshots();
    const { processor, pipeline, metrics } = instance(snapshots);
    await processor.process({ topic: 'ev', partition: 0, messages: messages(burst('stays', 10, 0, 1_000), 0) });
    await processor.process({ topic: 'ev', partition: 1, messages: messages(burst('moves', 10, 0, 1_000), 0) });
    // Partition 1 went to another member: its key is dropped, partition 0's stays in memory.
    expect(processor.retain((partitions) => partitions.every((p) => p === 0))).toEqual({ kept: 1, dropped: 1 });
    expect(pipeline.store.has('stays')).toBe(true);
    expect(pipeline.store.has('moves')).toBe(false);
    const restored = () => metrics.registry.getSingleMetric('probewatch_state_snapshots_restored_total')!.get().then((m) => m.values[0]?.value ?? 0);
    await processor.process({ topic: 'ev', partition: 0, messages: messages(burst('stays', 5, 20_000, 1_000), 10) });
    expect(await restored()).toBe(0);
    await processor.process({ topic: 'ev', partition: 1, messages: messages(burst('moves', 5, 20_000, 1_000), 10) });
    expect(await restored()).toBe(1);
    expect([snapshots.eventsSeen('stays'), snapshots.eventsSeen('moves')]).toEqual([15, 15]);
  });

  it('retries a transient sink failure before snapshotting, and snapshots nothing when a sink fails for good', async () => {
    const snapshots = new JsonSnapshots();
    let failures = 1;
    const flaky = new InMemorySink<Decision>();
    const { processor } = instance(snapshots, {
      publish: async (d) => {
        if (failures-- > 0) throw new ProbewatchError('PW_SINK', 'redis down', { retriable: true });
        await flaky.publish(d);
      },
    });
    await processor.process({ topic: 'ev', partition: 0, messages: messages(burst('a', 120, 0, 100), 0) });
    expect(failures).toBe(-1);
    expect(flaky.items.length).toBeGreaterThan(0);
    expect(snapshots.eventsSeen('a')).toBe(120);

    const untouched = new JsonSnapshots();
    const broken = instance(untouched, {
      publish: async () => {
        throw new ProbewatchError('PW_SINK', 'rejected', { retriable: false });
      },
    });
    await expect(broken.processor.process({ topic: 'ev', partition: 0, messages: messages(burst('b', 120, 0, 100), 0) })).rejects.toMatchObject({ code: 'PW_SINK' });
    expect(untouched.saves).toBe(0);
  });
});
