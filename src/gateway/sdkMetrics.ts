import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * The gateway SDK's Prometheus metrics on the gateway's own registry. A
 * metric already registered (a second emitter or reader on one registry) is
 * shared rather than registered twice.
 */
export function sdkCounter<L extends string = never>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/** A gauge read when Prometheus scrapes, from `read`. */
export function sdkGauge(registry: Registry, name: string, help: string, read: () => number): Gauge {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge;
  return new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}
