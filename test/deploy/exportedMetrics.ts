import { Registry } from 'prom-client';
import { createMetrics } from '../../src/observability/metrics.ts';

/** Every series name probewatch's /metrics can carry (histograms with their _bucket, _sum and _count). */
export function exportedSeriesNames(): Set<string> {
  const metrics = createMetrics(new Registry(), { defaultMetrics: true });
  const names = new Set<string>();
  for (const m of metrics.registry.getMetricsAsArray() as unknown as { name: string; constructor: { name: string } }[]) {
    names.add(m.name);
    if (m.constructor.name === 'Histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(m.name + suffix);
  }
  return names;
}

/** The probewatch_* series a PromQL expression reads. */
export function probewatchSeriesIn(expr: string): string[] {
  return [...new Set(expr.match(/\bprobewatch_[a-z0-9_]+/g) ?? [])];
}
