import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ProbewatchError } from '../../src/errors.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { countingOutput, countingSnapshots } from '../../src/pipeline/countingSinks.ts';
import { withRetry } from '../../src/pipeline/retry.ts';
import type { KeyState } from '../../src/state/KeyStateStore.ts';

const byLabel = async (metric: { get(): Promise<{ values: { labels: Record<string, string | number>; value: number }[] }> }, label: string) =>
  Object.fromEntries((await metric.get()).values.map((v) => [v.labels[label], v.value]));

/** Fails its first `failures` calls with a retriable error, then records what it got. */
function flaky<T>(failures: number) {
  const got: T[] = [];
  return {
    got,
    async call(x: T) {
      if (failures-- > 0) throw new ProbewatchError('PW_SINK', 'down', { retriable: true });
      got.push(x);
    },
  };
}

describe('counting sinks', () => {
  it('counts each failed publish, retried or not, and passes the error and the result through', async () => {
    const metrics = createMetrics(new Registry());
    const redis = flaky<string[]>(2);
    const decisions = countingOutput({ publish: (d: string[]) => redis.call(d) }, metrics, 'redis');
    const kafka = countingOutput({ publish: async (_: string) => {} }, metrics, 'kafka');
    // Exported at 0 before anything failed.
    expect(await byLabel(metrics.outputFailures, 'output')).toEqual({ redis: 0, kafka: 0 });

    await withRetry(() => decisions.publish(['d1']), { what: 'test', logger: silentLogger(), sleep: async () => {} });
    await kafka.publish('ok');
    expect(redis.got).toEqual([['d1']]);
    expect(await byLabel(metrics.outputFailures, 'output')).toEqual({ redis: 2, kafka: 0 });

    const broken = countingOutput({ publish: async () => Promise.reject(new ProbewatchError('PW_SINK', 'rejected', { retriable: false })) }, metrics, 'kafka');
    await expect(broken.publish('x')).rejects.toMatchObject({ code: 'PW_SINK' });
    expect(await byLabel(metrics.outputFailures, 'output')).toEqual({ redis: 2, kafka: 1 });
  });

  it('counts snapshot failures by operation and keeps optional aggregate methods optional', async () => {
    const metrics = createMetrics(new Registry());
    const saves = flaky<readonly KeyState[]>(1);
    const store = {
      load: async (_keys: readonly string[]) => Promise.reject(new ProbewatchError('PW_STATE', 'redis timeout', { retriable: true })),
      save: (states: readonly KeyState[]) => saves.call(states),
    };
    const counted = countingSnapshots(store, metrics);
    expect(counted.loadAggregates).toBeUndefined();
    await expect(counted.save([])).rejects.toMatchObject({ code: 'PW_SINK' });
    await counted.save([]);
    await expect(counted.load(['k'])).rejects.toMatchObject({ code: 'PW_STATE' });
    expect(saves.got).toHaveLength(1);
    expect(await byLabel(metrics.snapshotFailures, 'op')).toEqual({ load: 1, save: 1 });

    const withAggregates = countingSnapshots({ ...store, loadAggregates: async () => [], saveAggregates: async () => Promise.reject(new Error('full')) }, metrics);
    expect(await withAggregates.loadAggregates!()).toEqual([]);
    await expect(withAggregates.saveAggregates!([])).rejects.toThrow('full');
    expect(await byLabel(metrics.snapshotFailures, 'op')).toMatchObject({ save_aggregates: 1, load_aggregates: 0 });
  });

  it('leaves the sinks as they are without a metrics registry (replay, tests)', () => {
    const sink = { publish: async () => {} };
    expect(countingOutput(sink, undefined, 'kafka')).toBe(sink);
  });
});
