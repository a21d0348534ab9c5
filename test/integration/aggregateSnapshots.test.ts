/**
 * Aggregate entities survive a restart: an instance snapshots the pooled
 * views it keeps beside per-key state (here the volume detector's
 * per-network windows) to the real Redis, and a new instance loads them
 * before its first batch, so a campaign spread over many keys of one /24
 * stays seen instead of starting over. A control instance without those
 * snapshots shows the difference.
 */
import { describe, expect, it } from 'vitest';
import { AvroEventCodec } from '../../src/codec/AvroEventCodec.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import type { Decision } from '../../src/contract.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { BatchProcessor } from '../../src/pipeline/BatchProcessor.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import { InMemorySink } from '../../src/sinks/InMemorySink.ts';
import type { KafkaOutputs } from '../../src/sinks/KafkaPublisher.ts';
import { RedisSnapshotStore } from '../../src/state/RedisSnapshotStore.ts';
import { burst } from '../helpers/events.ts';
import { testRedis, uniqueName } from './helpers.ts';

const codec = new AvroEventCodec();
const compute = { backend: 'none' } as Compute;
// The per-network hour limit is lowered so a modest campaign crosses it; the rest is default.
const config = parseConfig({ detectors: { volume: { prefix: { hour: 120 } } } });
const volumeOnly = new DetectionPipeline(config, { compute }).detectors.filter((d) => d.name === 'volume');
const NETWORK = 'prefix:203.0.113.0/24';

function instance(snapshots: RedisSnapshotStore) {
  const metrics = createMetrics();
  const pipeline = new DetectionPipeline(config, { compute, metrics, detectors: volumeOnly });
  const kafka = new InMemorySink<KafkaOutputs>();
  const processor = new BatchProcessor({
    pipeline,
    codec,
    publisher: { publish: (out) => kafka.publish([out]) },
    decisionStore: new InMemorySink<Decision>(),
    snapshots,
    aggregates: config.state.aggregates,
    logger: silentLogger(),
    metrics,
  });
  return { processor, pipeline, metrics };
}

/** `keys` keys of 8 calls each from addresses of one /24, a minute apart per key. */
function campaign(keys: number, first: number, start: number) {
  return Array.from({ length: keys }, (_, k) => burst(`sybil-${first + k}`, 8, start + k * 1_000, 60_000, { client_ip: `203.0.113.${first + k + 1}` }))
    .flat()
    .sort((a, b) => a.ts - b.ts)
    .map((e, i) => ({ offset: String(i), value: codec.encode(e) }));
}

const count = async (metrics: ReturnType<typeof createMetrics>, name: 'aggregatesRestored' | 'aggregatesWritten') => (await metrics[name].get()).values[0]?.value ?? 0;

describe('aggregate snapshots', () => {
  it('a restarted instance keeps the pooled views of the one before it', async () => {
    const prefix = `${uniqueName('pw-agg')}:`;
    const redis = testRedis(prefix);
    const store = new RedisSnapshotStore(redis, { keyPrefix: prefix, ttlMs: 60_000 });
    const start = Date.UTC(2026, 0, 5, 9);

    const first = instance(store);
    await first.processor.process({ topic: 'ev', partition: 0, messages: campaign(16, 0, start) });
    await first.processor.flush();
    expect(await count(first.metrics, 'aggregatesWritten')).toBeGreaterThan(0);
    expect(await redis.exists(store.aggregateKey(NETWORK))).toBe(1);
    // Per-client windows are not snapshotted by default.
    expect(await redis.exists(store.aggregateKey('ip:203.0.113.1'))).toBe(0);

    // The process dies; a new one (and a control with no snapshots) takes the next keys of the campaign.
    const next = instance(store);
    const control = instance(new RedisSnapshotStore(redis, { keyPrefix: `${prefix}control:`, ttlMs: 60_000 }));
    const later = campaign(4, 16, start + 8 * 60_000);
    await next.processor.process({ topic: 'ev', partition: 1, messages: later });
    await control.processor.process({ topic: 'ev', partition: 1, messages: later });

    expect(await count(next.metrics, 'aggregatesRestored')).toBeGreaterThan(0);
    const restored = next.pipeline.store.peek('sybil-19')!;
    const fresh = control.pipeline.store.peek('sybil-19')!;
    // 16 × 8 + 4 × 8 = 160 calls from the network within the hour: a third over the limit of 120 (throttle) only with the restored windows.
    expect(restored.scores.volume).toBeGreaterThanOrEqual(0.5);
    expect(restored.evidence.volume.join(' ')).toMatch(/network 203\.0\.113\.0\/24/);
    expect(fresh.scores.volume).toBe(0);
  });

  it('loads only entities under its own prefix, and skips unreadable snapshots', async () => {
    const prefix = `${uniqueName('pw-agg*[x]')}:`;
    const redis = testRedis(prefix);
    const store = new RedisSnapshotStore(redis, { keyPrefix: prefix, ttlMs: 60_000 });
    await store.saveAggregates([
      { entity: 'model:m', seen: 5, detectors: { 'off-manifold': { refs: [1, 2, 3] } } },
      { entity: 'tenant:acme', seen: 6, detectors: { aggregates: { m: { contributions: 3 } } } },
    ]);
    await redis.set(store.aggregateKey('tenant:broken'), '{not json');
    const other = new RedisSnapshotStore(redis, { keyPrefix: `${prefix}x`, ttlMs: 60_000 });
    await other.saveAggregates([{ entity: 'model:elsewhere', seen: 1, detectors: {} }]);

    const loaded = await store.loadAggregates();
    expect(loaded.map((a) => a.entity).sort()).toEqual(['model:m', 'tenant:acme']);
    expect(loaded.find((a) => a.entity === 'model:m')).toEqual({ entity: 'model:m', seen: 5, detectors: { 'off-manifold': { refs: [1, 2, 3] } } });
    expect(await redis.pttl(store.aggregateKey('model:m'))).toBeGreaterThan(0);
  });
});
