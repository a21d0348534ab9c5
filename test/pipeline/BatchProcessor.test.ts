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
import type { AggregateSnapshot, KeyState, SaveOptions } from '../../src/state/KeyStateStore.ts';
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

/**
 * Snapshots in a store that can be restarted empty, like a Redis without
 * persistence: it then refuses a save that is not `full` (PW_STATE_LOST)
 * until one is, as RedisSnapshotStore does with its marker.
 */
class ForgetfulSnapshots {
  private readonly saved = new Map<string, string>();
  private readonly aggs = new Map<string, string>();
  private lost = false;
  down = false;
  readonly fullSaves: string[] = [];
  async load(keys: readonly string[]) {
    return new Map(keys.filter((k) => this.saved.has(k)).map((k) => [k, JSON.parse(this.saved.get(k)!) as KeyState]));
  }
  async save(states: readonly KeyState[], options: SaveOptions = {}) {
    this.check(options, 'keys');
    for (const s of states) this.saved.set(s.key, JSON.stringify(s));
  }
  async saveAggregates(aggregates: readonly AggregateSnapshot[], options: SaveOptions = {}) {
    this.check(options, 'aggregates');
    for (const a of aggregates) this.aggs.set(a.entity, JSON.stringify(a));
  }
  async loadAggregates() {
    return [];
  }
  private check(options: SaveOptions, what: string) {
    if (this.down) throw new ProbewatchError('PW_STATE', 'redis down', { retriable: true });
    if (this.lost && !options.full) throw new ProbewatchError('PW_STATE_LOST', 'marker missing');
    if (options.full) this.fullSaves.push(what);
    this.lost = false;
  }
  restartEmpty() {
    this.saved.clear();
    this.aggs.clear();
    this.lost = true;
  }
  keys() {
    return [...this.saved.keys()].sort();
  }
  aggregates() {
    return [...this.aggs.keys()].sort();
  }
  eventsSeen(key: string): number | undefined {
    const raw = this.saved.get(key);
    return raw ? (JSON.parse(raw) as KeyState).eventsSeen : undefined;
  }
}

const compute = { backend: 'none' } as Compute;
const volumeOnly = new DetectionPipeline(config, { compute }).detectors.filter((d) => d.name === 'volume');

/** A fresh process: new pipeline and memory, shared snapshots and sinks. */
function instance(
  snapshots: JsonSnapshots,
  decisionStore: { publish(d: readonly Decision[]): Promise<void> } = new InMemorySink<Decision>(),
  timing: { snapshotEveryMs?: number; snapshotShare?: number; now?: () => number; config?: typeof config } = {},
) {
  const metrics = createMetrics();
  const pipeline = new DetectionPipeline(timing.config ?? config, { compute, metrics, detectors: volumeOnly });
  const kafka = new InMemorySink<KafkaOutputs>();
  const publisher = { publish: (out: KafkaOutputs) => kafka.publish([out]) };
  const processor = new BatchProcessor({ pipeline, codec, publisher, decisionStore, snapshots, logger: silentLogger(), metrics, now: timing.now ?? (() => 7), snapshotEveryMs: timing.snapshotEveryMs, snapshotShare: timing.snapshotShare });
  return { processor, pipeline, metrics, kafka, redis: decisionStore as InMemorySink<Decision> };
}

/** A process whose outputs go nowhere, snapshotting keys and the aggregates `agg:*` into `snapshots`. */
function withAggregates(snapshots: ForgetfulSnapshots, now: () => number, timing: { snapshotEveryMs?: number; aggregatesEveryMs: number }) {
  const pipeline = new DetectionPipeline(config, { compute, detectors: volumeOnly });
  const processor = new BatchProcessor({
    pipeline,
    codec,
    publisher: { publish: async () => {} },
    decisionStore: new InMemorySink<Decision>(),
    snapshots,
    logger: silentLogger(),
    now,
    snapshotEveryMs: timing.snapshotEveryMs,
    aggregates: { snapshotEveryMs: timing.aggregatesEveryMs, entities: ['agg:'] },
  });
  return { processor, pipeline };
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
    expect(result).toEqual({ applied: 120, skipped: 0, deadLetters: 1, lastOffset: '120', commits: [{ topic: 'ev', partition: 1, offset: '121' }] });
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

  describe('with snapshots per interval (snapshotEveryMs)', () => {
    /** Every offset handed back for commit is held by the snapshots: the last offset applied on its partition is just before it. */
    function expectCovered(snapshots: JsonSnapshots, commits: readonly { partition: number; offset: string }[]) {
      for (const c of commits) {
        const applied = [...snapshots.saved.values()].map((raw) => (JSON.parse(raw) as KeyState).sourceOffsets?.[String(c.partition)]).filter((o) => o !== undefined).map(Number);
        expect(Math.max(...applied), `partition ${c.partition}`).toBe(Number(c.offset) - 1);
      }
    }

    it('snapshots at most once per interval, and hands back only offsets a snapshot holds', async () => {
      const snapshots = new JsonSnapshots();
      let now = 0;
      const { processor } = instance(snapshots, undefined, { snapshotEveryMs: 1_000, now: () => now });
      const events = burst('k', 60, 0, 1_000);
      const other = burst('j', 20, 0, 1_000);
      // The first batch snapshots at once; the next ones within the interval only in memory.
      expect((await processor.process({ topic: 'ev', partition: 0, messages: messages(events.slice(0, 20), 0) })).commits).toEqual([{ topic: 'ev', partition: 0, offset: '20' }]);
      now = 400;
      expect((await processor.process({ topic: 'ev', partition: 0, messages: messages(events.slice(20, 40), 20) })).commits).toEqual([]);
      expect((await processor.process({ topic: 'ev', partition: 2, messages: messages(other, 0) })).commits).toEqual([]);
      expect(snapshots.saves).toBe(1);
      expect(snapshots.eventsSeen('k')).toBe(20);
      expect(snapshots.eventsSeen('j')).toBeUndefined();
      // Past the interval, one snapshot holds both keys, and both partitions may be committed.
      now = 1_000;
      const { commits } = await processor.process({ topic: 'ev', partition: 0, messages: messages(events.slice(40), 40) });
      expect(commits).toEqual([
        { topic: 'ev', partition: 0, offset: '60' },
        { topic: 'ev', partition: 2, offset: '20' },
      ]);
      expect(snapshots.saves).toBe(2);
      expect([snapshots.eventsSeen('k'), snapshots.eventsSeen('j')]).toEqual([60, 20]);
      expectCovered(snapshots, commits);
    });

    it('killed between two snapshots: the next owner, from the committed offsets, counts every event once', async () => {
      const snapshots = new JsonSnapshots();
      let now = 0;
      const first = instance(snapshots, undefined, { snapshotEveryMs: 60_000, now: () => now });
      const events = burst('k', 90, 0, 1_000);
      let committed = 0;
      for (let at = 0; at < 60; at += 15) {
        const { commits } = await first.processor.process({ topic: 'ev', partition: 0, messages: messages(events.slice(at, at + 15), at) });
        expectCovered(snapshots, commits);
        for (const c of commits) committed = Number(c.offset);
        now += 100;
      }
      // Memory is at 60 events, the snapshot at 15, the commit at 15: the process dies here.
      expect(first.pipeline.store.peek('k')!.eventsSeen).toBe(60);
      expect([snapshots.eventsSeen('k'), committed]).toEqual([15, 15]);

      const next = instance(snapshots, undefined, { snapshotEveryMs: 60_000, now: () => now });
      const result = await next.processor.process({ topic: 'ev', partition: 0, messages: messages(events.slice(committed), committed) });
      expect(result).toMatchObject({ applied: 75, skipped: 0 });
      expect(snapshots.eventsSeen('k')).toBe(90);
      expect(JSON.parse(snapshots.saved.get('k')!).sourceOffsets).toEqual({ '0': '89' });
    });

    describe('paced by their cost while batches keep coming (snapshotShare)', () => {
      /** Snapshots that take `tookMs` of the clock each. */
      function slowSnapshots(clock: { now: number }, tookMs: number) {
        const inner = new JsonSnapshots();
        const store = {
          saved: inner.saved,
          get saves() {
            return inner.saves;
          },
          load: (keys: readonly string[]) => inner.load(keys),
          save: async (states: readonly KeyState[]) => {
            await inner.save(states);
            clock.now += tookMs;
          },
          eventsSeen: (key: string) => inner.eventsSeen(key),
        };
        return store as unknown as JsonSnapshots;
      }

      it('a snapshot that took d ms puts the next d / share after it began; with no batch since the last timer call, the plain interval applies', async () => {
        const clock = { now: 0 };
        const snapshots = slowSnapshots(clock, 300);
        const { processor } = instance(snapshots, undefined, { snapshotEveryMs: 1_000, snapshotShare: 0.1, now: () => clock.now });
        const events = burst('k', 100, 0, 1_000);
        let at = 0;
        const batch = async () => {
          const r = await processor.process({ topic: 'ev', partition: 0, messages: messages(events.slice(at, at + 10), at) });
          at += 10;
          return r.commits;
        };
        // The first batch snapshots, which takes 300 ms: the next is due 3 s after it began, not 1 s.
        expect(await batch()).toEqual([{ topic: 'ev', partition: 0, offset: '10' }]);
        clock.now = 1_500;
        expect(await batch()).toEqual([]);
        // The timer between batches, with a batch since its last call: still paced.
        expect(await processor.snapshotNow()).toEqual([]);
        clock.now = 2_999;
        expect(await batch()).toEqual([]);
        expect(snapshots.saves).toBe(1);
        clock.now = 3_000;
        expect(await batch()).toEqual([{ topic: 'ev', partition: 0, offset: '40' }]);
        expect([snapshots.saves, snapshots.eventsSeen('k')]).toEqual([2, 40]);
        // Idle: a timer call after a batch is still paced; the next one, with no batch between, takes the snapshot at the plain interval.
        await batch();
        clock.now = 4_500;
        expect(await processor.snapshotNow()).toEqual([]);
        expect(await processor.snapshotNow()).toEqual([{ topic: 'ev', partition: 0, offset: '50' }]);
        expect([snapshots.saves, snapshots.eventsSeen('k')]).toEqual([3, 50]);
      });

      it('stretches the interval tenfold at most, and not at all with snapshotEveryMs 0 or without a share', async () => {
        const clock = { now: 0 };
        const slow = slowSnapshots(clock, 5_000);
        const paced = instance(slow, undefined, { snapshotEveryMs: 1_000, snapshotShare: 0.1, now: () => clock.now }).processor;
        const events = burst('k', 40, 0, 1_000);
        await paced.process({ topic: 'ev', partition: 0, messages: messages(events.slice(0, 10), 0) });
        // 5 s / 0.1 would be 50 s; the cap is 10 × 1 s from the snapshot's start.
        clock.now = 9_999;
        expect((await paced.process({ topic: 'ev', partition: 0, messages: messages(events.slice(10, 20), 10) })).commits).toEqual([]);
        clock.now = 10_000;
        expect((await paced.process({ topic: 'ev', partition: 0, messages: messages(events.slice(20, 30), 20) })).commits).toEqual([{ topic: 'ev', partition: 0, offset: '30' }]);

        for (const timing of [{ snapshotEveryMs: 0, snapshotShare: 0.1 }, { snapshotEveryMs: 1_000 }]) {
          const c = { now: 0 };
          const store = slowSnapshots(c, 5_000);
          const { processor } = instance(store, undefined, { ...timing, now: () => c.now });
          for (let at = 0; at < 30; at += 10) {
            c.now += timing.snapshotEveryMs;
            await processor.process({ topic: 'ev', partition: 0, messages: messages(events.slice(at, at + 10), at) });
          }
          expect(store.saves, JSON.stringify(timing)).toBe(3);
        }
      });

      it('killed between two paced snapshots: commits never ran ahead of them, and the next owner counts every event once', async () => {
        const clock = { now: 0 };
        const snapshots = slowSnapshots(clock, 400);
        const first = instance(snapshots, undefined, { snapshotEveryMs: 1_000, snapshotShare: 0.1, now: () => clock.now });
        const events = burst('k', 120, 0, 1_000);
        let committed = 0;
        for (let at = 0; at < 100; at += 10) {
          const { commits } = await first.processor.process({ topic: 'ev', partition: 0, messages: messages(events.slice(at, at + 10), at) });
          expectCovered(snapshots, commits);
          for (const c of commits) committed = Number(c.offset);
          clock.now += 1_000;
        }
        // A batch a second; snapshots (0.4 s each: the next 4 s after one began) at 0, 4.4 and 8.8 s, not at every second.
        // Memory holds 100 events, the last snapshot and the commit 90.
        expect([snapshots.saves, snapshots.eventsSeen('k'), committed]).toEqual([3, 90, 90]);
        expect(first.pipeline.store.peek('k')!.eventsSeen).toBe(100);

        const next = instance(snapshots, undefined, { snapshotEveryMs: 1_000, snapshotShare: 0.1, now: () => clock.now });
        const result = await next.processor.process({ topic: 'ev', partition: 0, messages: messages(events.slice(committed), committed) });
        expect(result).toMatchObject({ applied: 30, skipped: 0 });
        expect(snapshots.eventsSeen('k')).toBe(120);
      });
    });

    it('a forced snapshot between batches hands back every partition it covers', async () => {
      const snapshots = new JsonSnapshots();
      const { processor } = instance(snapshots, undefined, { snapshotEveryMs: 60_000, now: () => 5 });
      await processor.process({ topic: 'ev', partition: 0, messages: messages(burst('a', 5, 0, 1_000), 0) });
      await processor.process({ topic: 'ev', partition: 1, messages: messages(burst('b', 5, 0, 1_000), 100) });
      expect(await processor.snapshotNow()).toEqual([]);
      expect(snapshots.eventsSeen('b')).toBeUndefined();
      const commits = await processor.snapshotNow({ force: true });
      expect(commits).toEqual([{ topic: 'ev', partition: 1, offset: '105' }]);
      expect(snapshots.eventsSeen('b')).toBe(5);
      expectCovered(snapshots, commits);
    });

    it('a failed snapshot keeps the keys in memory and commits nothing until a snapshot covering them is saved', async () => {
      const snapshots = new JsonSnapshots();
      let down = false;
      const store = {
        load: (keys: readonly string[]) => snapshots.load(keys),
        save: async (states: readonly KeyState[]) => {
          if (down) throw new ProbewatchError('PW_STATE', 'redis down', { retriable: true });
          await snapshots.save(states);
        },
      };
      let now = 0;
      const { processor, pipeline, kafka } = instance(store as unknown as JsonSnapshots, undefined, { snapshotEveryMs: 1_000, now: () => now });
      const events = burst('k', 40, 0, 1_000);
      await processor.process({ topic: 'ev', partition: 0, messages: messages(events.slice(0, 10), 0) });
      down = true;
      for (let at = 10; at < 30; at += 10) {
        now += 1_000;
        // Each batch finds its snapshot due, fails to save it, and carries on from memory.
        expect((await processor.process({ topic: 'ev', partition: 0, messages: messages(events.slice(at, at + 10), at) })).commits).toEqual([]);
      }
      expect(pipeline.store.peek('k')!.eventsSeen).toBe(30);
      expect(await processor.snapshotNow({ force: true, shouldContinue: () => false }).catch(() => 'failed')).toBe('failed');
      expect(snapshots.eventsSeen('k')).toBe(10);
      down = false;
      now += 1_000;
      const { commits } = await processor.process({ topic: 'ev', partition: 0, messages: messages(events.slice(30), 30) });
      expect(commits).toEqual([{ topic: 'ev', partition: 0, offset: '40' }]);
      expect(snapshots.eventsSeen('k')).toBe(40);
      expect(risk(kafka).map((r) => r.events_seen)).toEqual([10, 20, 30, 40]);
    });

    it('outputs a sink refused are sent first by the next batch, each exactly once, and no snapshot is taken meanwhile', async () => {
      const snapshots = new JsonSnapshots();
      let redisDown = true;
      const sent = new InMemorySink<KafkaOutputs>();
      const decisions = new InMemorySink<Decision>();
      const metrics = createMetrics();
      const pipeline = new DetectionPipeline(config, { compute, metrics, detectors: volumeOnly });
      const processor = new BatchProcessor({
        pipeline,
        codec,
        publisher: { publish: (out: KafkaOutputs) => sent.publish([out]) },
        decisionStore: {
          publish: async (d: readonly Decision[]) => {
            if (redisDown) throw new ProbewatchError('PW_SINK', 'redis down', { retriable: true });
            await decisions.publish(d);
          },
        },
        snapshots,
        logger: silentLogger(),
        metrics,
        now: () => 7,
      });
      const events = burst('attacker', 240, 0, 100);
      // The batch gives up (a rebalance, a shutdown): its events are applied, their outputs wait.
      const giveUp = { shouldContinue: () => false };
      await expect(processor.process({ topic: 'ev', partition: 0, messages: messages(events.slice(0, 120), 0), ...giveUp })).rejects.toMatchObject({ code: 'PW_SINK' });
      // Kafka took its part (before Redis, which gets a decision only once the topic holds it); Redis nothing.
      const kafkaFirst = sent.items.length;
      expect(kafkaFirst).toBeGreaterThan(0);
      expect(decisions.items).toEqual([]);
      expect(snapshots.saves).toBe(0);
      expect(await processor.snapshotNow({ force: true, shouldContinue: () => false }).catch(() => 'refused')).toBe('refused');
      expect(snapshots.saves).toBe(0);
      // Read again with the next events: the first 120 are skipped, their outputs go first, and Kafka gets nothing twice.
      redisDown = false;
      const result = await processor.process({ topic: 'ev', partition: 0, messages: messages(events, 0) });
      expect(result).toMatchObject({ applied: 120, skipped: 120 });
      // Exactly the scores of a run without the failure, in order.
      const clean = instance(new JsonSnapshots());
      await clean.processor.process({ topic: 'ev', partition: 0, messages: messages(events, 0) });
      expect(sent.items.flatMap((o) => o.risk)).toEqual(risk(clean.kafka));
      expect(decisions.items).toEqual(clean.redis.items);
      expect(sent.items.flatMap((o) => o.decisions)).toEqual(decisions.items);
      expect(new Set(decisions.items.map((d) => JSON.stringify(d))).size).toBe(decisions.items.length);
      expect(snapshots.eventsSeen('attacker')).toBe(240);
    });

    it('Redis restarted empty mid-interval: the next snapshot rewrites every key in memory and the aggregates in full', async () => {
      const snapshots = new ForgetfulSnapshots();
      let now = 0;
      const { processor, pipeline } = withAggregates(snapshots, () => now, { snapshotEveryMs: 1_000, aggregatesEveryMs: 60_000 });
      pipeline.store.aggregate('agg:tenant-a', 0).n = 1;
      pipeline.store.aggregate('agg:tenant-b', 0).n = 2;
      const keys = ['a', 'b', 'c'];
      for (const [i, key] of keys.entries()) {
        now = i * 1_000;
        await processor.process({ topic: 'ev', partition: 0, messages: messages(burst(key, 5, 0, 1_000), i * 5) });
      }
      expect(snapshots.keys()).toEqual(keys);
      expect(snapshots.aggregates()).toEqual(['agg:tenant-a', 'agg:tenant-b']);
      // Redis comes back empty; only 'c' changes before the next snapshot is due.
      snapshots.restartEmpty();
      now = 3_000;
      const { commits } = await processor.process({ topic: 'ev', partition: 0, messages: messages(burst('c', 5, 10_000, 1_000), 15) });
      expect(snapshots.keys()).toEqual(keys);
      expect(keys.map((k) => snapshots.eventsSeen(k))).toEqual([5, 5, 10]);
      expect(snapshots.fullSaves).toEqual(['keys', 'aggregates']);
      expect(snapshots.aggregates()).toEqual(['agg:tenant-a', 'agg:tenant-b']);
      expect(commits).toEqual([{ topic: 'ev', partition: 0, offset: '20' }]);

      // Again, found by the timer's snapshot between batches (which retries what a retry can fix, and this it cannot).
      snapshots.restartEmpty();
      await processor.process({ topic: 'ev', partition: 0, messages: messages(burst('a', 1, 20_000, 1_000), 20) });
      now = 60_000;
      await processor.snapshotNow({ shouldContinue: () => true });
      expect(snapshots.keys()).toEqual(keys);
      expect(snapshots.aggregates()).toEqual(['agg:tenant-a', 'agg:tenant-b']);
    });

    it('an aggregate save that fails marks its aggregates changed again, so the next one writes them', async () => {
      const snapshots = new ForgetfulSnapshots();
      let now = 0;
      const { processor, pipeline } = withAggregates(snapshots, () => now, { aggregatesEveryMs: 1_000 });
      pipeline.store.aggregate('agg:x', 0).n = 1;
      snapshots.down = true;
      await processor.process({ topic: 'ev', partition: 0, messages: messages(burst('a', 2, 0, 1_000), 0) });
      expect(snapshots.aggregates()).toEqual([]);
      snapshots.down = false;
      now = 1_000;
      await processor.process({ topic: 'ev', partition: 0, messages: messages(burst('a', 2, 5_000, 1_000), 2) });
      expect(snapshots.aggregates()).toEqual(['agg:x']);
    });

    it('more keys than memory holds: a snapshot is taken before a key not yet in one would be evicted', async () => {
      const snapshots = new JsonSnapshots();
      const small = parseConfig({ detectors: { volume: {} }, publish: { riskEveryEvents: 10 }, state: { maxKeys: 4 } });
      const { processor, metrics } = instance(snapshots, undefined, { snapshotEveryMs: 60_000, now: () => 5, config: small });
      const keys = Array.from({ length: 10 }, (_, k) => `k${k}`);
      let offset = 0;
      for (let round = 0; round < 3; round++) {
        for (const key of keys) {
          await processor.process({ topic: 'ev', partition: 0, messages: messages(burst(key, 2, round * 10_000, 1_000), offset) });
          offset += 2;
        }
      }
      await processor.snapshotNow({ force: true });
      expect(keys.map((k) => snapshots.eventsSeen(k))).toEqual(keys.map(() => 6));
      const evicted = (await metrics.registry.getSingleMetric('probewatch_keys_evicted_total')!.get()).values;
      expect(evicted.find((v) => v.labels.reason === 'capacity')?.value).toBeGreaterThan(0);
      expect(evicted.find((v) => v.labels.reason === 'unsaved')?.value ?? 0).toBe(0);
    });
  });
});
