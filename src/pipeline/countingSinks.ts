import type { Metrics } from '../observability/metrics.ts';
import type { BatchProcessorDeps } from './BatchProcessor.ts';

type Snapshots = BatchProcessorDeps['snapshots'];

/**
 * A batch's outputs and snapshot store with every failed call counted, from
 * outside the BatchProcessor: outputs not delivered
 * (`probewatch_output_failures_total{output}`) and snapshots not saved or
 * loaded (`probewatch_state_snapshot_failures_total{op}`). Each attempt
 * counts, whether the processor then retries it or gives up. The series are
 * exported at 0 from the start, so an alert's increase() sees the first
 * failure.
 */
export function countingOutput<T>(sink: { publish(out: T): Promise<void> }, metrics: Metrics | undefined, output: 'kafka' | 'redis'): { publish(out: T): Promise<void> } {
  if (!metrics) return sink;
  metrics.outputFailures.inc({ output }, 0);
  return { publish: counted((out: T) => sink.publish(out), metrics.outputFailures.labels({ output })) };
}

/** The snapshot store with failed saves and loads counted by operation (see `countingOutput`). */
export function countingSnapshots(store: Snapshots, metrics: Metrics | undefined): Snapshots {
  if (!metrics) return store;
  const op = (name: string) => {
    metrics.snapshotFailures.inc({ op: name }, 0);
    return metrics.snapshotFailures.labels({ op: name });
  };
  const wrapped: Snapshots = {
    load: counted((keys: readonly string[]) => store.load(keys), op('load')),
    save: counted((states: Parameters<Snapshots['save']>[0], options?: Parameters<Snapshots['save']>[1]) => store.save(states, options), op('save')),
  };
  const { loadAggregates, saveAggregates } = store;
  if (loadAggregates) wrapped.loadAggregates = counted(() => loadAggregates.call(store), op('load_aggregates'));
  if (saveAggregates) wrapped.saveAggregates = counted((aggregates: Parameters<typeof saveAggregates>[0], options?: Parameters<typeof saveAggregates>[1]) => saveAggregates.call(store, aggregates, options), op('save_aggregates'));
  return wrapped;
}

function counted<A extends unknown[], R>(fn: (...args: A) => Promise<R>, failures: { inc(): void }): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (err) {
      failures.inc();
      throw err;
    }
  };
}
