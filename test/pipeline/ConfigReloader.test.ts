import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/configSchema.ts';
import { loadConfig } from '../../src/config/loadConfig.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { ConfigReloader } from '../../src/pipeline/ConfigReloader.ts';

function setup(initialYaml: string) {
  const file = join(mkdtempSync(join(tmpdir(), 'pw-reload-')), 'probewatch.yaml');
  writeFileSync(file, initialYaml);
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const metrics = createMetrics();
  const applied: Readonly<Config>[] = [];
  const reloader = new ConfigReloader({ initial: loadConfig(file), load: () => loadConfig(file), apply: (c) => void applied.push(c), logger, metrics });
  const count = async (result: string) => (await metrics.configReloads.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  return { file, logs, metrics, applied, reloader, count };
}

describe('ConfigReloader', () => {
  it('applies a valid config, refuses an invalid one naming the key, and keeps the running one', async () => {
    const t = setup('policy:\n  thresholds:\n    observe: 0.3\n');
    writeFileSync(t.file, 'policy:\n  thresholds:\n    observe: 0.2\n');
    expect(await t.reloader.reload('SIGHUP')).toBe('applied');
    expect(t.applied.map((c) => c.policy.thresholds.observe)).toEqual([0.2]);
    expect(t.reloader.config.policy.thresholds.observe).toBe(0.2);

    writeFileSync(t.file, 'policy:\n  thresholds:\n    observe: 2\n');
    expect(await t.reloader.reload('SIGHUP')).toBe('refused');
    expect(t.applied).toHaveLength(1);
    expect(t.reloader.config.policy.thresholds.observe).toBe(0.2);
    const refusal = t.logs.find((l) => String(l.msg).startsWith('config reload refused'))!;
    expect(refusal.level).toBe(50);
    expect(refusal.msg).toMatch(/policy\.thresholds\.observe/);

    writeFileSync(t.file, 'policy: [not, a, mapping\n');
    expect(await t.reloader.reload('SIGHUP')).toBe('refused');
    expect(await t.count('applied')).toBe(1);
    expect(await t.count('refused')).toBe(2);
  });

  it('reports settings that need a restart and does not apply them', async () => {
    const t = setup('http:\n  port: 9464\n');
    writeFileSync(t.file, 'http:\n  port: 9999\nkafka:\n  topics:\n    events: other\n');
    expect(await t.reloader.reload('SIGHUP')).toBe('unchanged');
    expect(t.applied).toHaveLength(0);
    expect(t.reloader.config.http.port).toBe(9464);
    const warning = t.logs.find((l) => String(l.msg).includes('restart needed'))!;
    expect(warning.settings).toEqual(['http.port', 'kafka.topics.events']);
    expect((await t.metrics.configRestartPending.get()).values[0].value).toBe(2);

    // A live change next to a restart-only one: the live one applies, the other still waits.
    writeFileSync(t.file, 'http:\n  port: 9999\npolicy:\n  shadow: true\n');
    expect(await t.reloader.reload('SIGHUP')).toBe('applied');
    expect(t.applied[0].policy.shadow).toBe(true);
    expect(t.applied[0].http.port).toBe(9464);
    expect((await t.metrics.configRestartPending.get()).values[0].value).toBe(1);
    expect(await t.count('unchanged')).toBe(1);
  });

  it('refuses a config the pipeline cannot be built from, keeping the running one', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pw-reload-')), 'probewatch.yaml');
    writeFileSync(file, 'logLevel: info\n');
    const metrics = createMetrics();
    const reloader = new ConfigReloader({
      initial: loadConfig(file),
      load: () => loadConfig(file),
      apply: () => {
        throw new Error('detector could not start');
      },
      logger: pino({ level: 'silent' }),
      metrics,
    });
    writeFileSync(file, 'logLevel: warn\n');
    expect(await reloader.reload('SIGHUP')).toBe('refused');
    expect(reloader.config.logLevel).toBe('info');
    expect((await metrics.configReloads.get()).values).toEqual([expect.objectContaining({ labels: { result: 'refused' }, value: 1 })]);
  });

  it('reloads when a watched file changes', async () => {
    const t = setup('logLevel: info\n');
    t.reloader.watch(t.file, 100);
    // mtime resolution: make sure the change is seen as one.
    await new Promise((r) => setTimeout(r, 50));
    writeFileSync(t.file, 'logLevel: warn\nlogLevel2: x\n');
    await expect.poll(() => t.count('refused'), { timeout: 5_000 }).toBe(1);
    writeFileSync(t.file, 'logLevel: warn\n');
    await expect.poll(() => t.applied.length, { timeout: 5_000 }).toBe(1);
    expect(t.applied[0].logLevel).toBe('warn');
    await t.reloader.close();
  });
});
