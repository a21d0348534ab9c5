import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectionConfigHash, loadConfig, parseConfig } from '../../src/config/loadConfig.ts';

function file(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'pw-config-')), 'probewatch.yaml');
  writeFileSync(path, text);
  return path;
}

describe('loadConfig', () => {
  it('has embedded defaults with the usual gateway limits', () => {
    const c = loadConfig(undefined);
    expect(c.kafka.topics.events).toBe('probewatch.events');
    const volume = c.detectors.volume as { key: { minute: number; day: number; month: number } };
    expect(volume.key).toMatchObject({ minute: 100, hour: 6000, day: 5000, month: 150_000 });
    expect(Object.isFrozen(c.policy.thresholds)).toBe(true);
  });

  it('reads a YAML file and lets the environment override it', () => {
    const path = file('kafka:\n  brokers: [a:9092]\ndetectors:\n  volume:\n    key: {minute: 50}\n');
    const c = loadConfig(path, { PROBEWATCH_KAFKA_BROKERS: 'b:1,c:2', PROBEWATCH__policy__shadow: 'true', PROBEWATCH__detectors__volume__weight: '0.5' });
    expect(c.kafka.brokers).toEqual(['b:1', 'c:2']);
    expect(c.policy.shadow).toBe(true);
    expect((c.detectors.volume as { key: { minute: number; hour: number }; weight: number }).key).toMatchObject({ minute: 50, hour: 6000 });
    expect((c.detectors.volume as { weight: number }).weight).toBe(0.5);
  });

  it('names every bad key and what was expected', () => {
    const path = file('kafka:\n  brokers: 3\npolicy:\n  thresholds: {observe: 2}\n  bogus: 1\ndetectors:\n  volume:\n    key: {minute: -1}\n');
    let message = '';
    try {
      loadConfig(path);
    } catch (err) {
      message = (err as Error).message;
      expect((err as { code: string }).code).toBe('PW_CONFIG');
    }
    expect(message).toContain('kafka.brokers: Invalid input: expected array');
    expect(message).toContain('policy.thresholds.observe: Too big');
    expect(message).toContain("policy: unknown key 'bogus'");
    expect(message).toContain('detectors.volume.key.minute');
  });

  it('takes state.snapshotEveryMs from 0 (every batch) to 10 minutes, naming the key and why past it', () => {
    expect(parseConfig({}).state.snapshotEveryMs).toBe(1_000);
    expect(parseConfig({ state: { snapshotEveryMs: 0 } }).state.snapshotEveryMs).toBe(0);
    expect(() => parseConfig({ state: { snapshotEveryMs: 600_001 } })).toThrow(/state\.snapshotEveryMs: state\.snapshotEveryMs must be at most 600000 ms .*holds commits back/);
    expect(() => parseConfig({ state: { snapshotEveryMs: -1 } })).toThrow(/state\.snapshotEveryMs/);
  });

  it('takes state.snapshotShare above 0 up to 1 (never stretched), 0.1 by default', () => {
    expect(parseConfig({}).state.snapshotShare).toBe(0.1);
    expect(parseConfig({ state: { snapshotShare: 1 } }).state.snapshotShare).toBe(1);
    expect(() => parseConfig({ state: { snapshotShare: 0 } })).toThrow(/state\.snapshotShare: state\.snapshotShare must be above 0/);
    expect(() => parseConfig({ state: { snapshotShare: 1.5 } })).toThrow(/state\.snapshotShare/);
  });

  it('keeps the aggregate stage off by default and names its bad keys', () => {
    const c = parseConfig({});
    expect(c.aggregateStage).toEqual({ enabled: false });
    expect(c.kafka.topics).toMatchObject({ aggregateFacts: 'probewatch.aggregate-facts', groupEvidence: 'probewatch.group-evidence' });
    expect(() => parseConfig({ aggregateStage: { enabled: 'yes' } })).toThrow(/aggregateStage\.enabled: Invalid input: expected boolean/);
    expect(() => parseConfig({ aggregateStage: { groupId: '' } })).toThrow(/aggregateStage\.groupId/);
    expect(() => parseConfig({ aggregateStage: { role: 'aggregates' } })).toThrow(/aggregateStage: unknown key 'role'/);
    expect(() => parseConfig({ kafka: { topics: { aggregateFacts: '' } } })).toThrow(/kafka\.topics\.aggregateFacts/);
  });

  it('rejects thresholds that decrease along the ladder', () => {
    expect(() => parseConfig({ policy: { thresholds: { throttle: 0.9, truncate: 0.8 } } })).toThrow(/must not decrease/);
  });

  it('checks tenant overrides against the global thresholds, naming the tenant', () => {
    expect(() => parseConfig({ policy: { tenants: { acme: { thresholds: { truncate: 0.4 } } } } })).toThrow(/policy\.tenants\.acme\.thresholds: .*tenant 'acme'/);
    expect(() => parseConfig({ policy: { tenants: { acme: { bogus: 1 } } } })).toThrow(/policy\.tenants\.acme: unknown key 'bogus'/);
    expect(parseConfig({ policy: { tenants: { acme: { thresholds: { truncate: 0.8 } } } } }).policy.tenants.acme.thresholds).toEqual({ truncate: 0.8 });
  });

  it('reads allowlist entries as bare keys or { key, until, reason }, with the expiry as epoch ms', () => {
    const { allowlist } = parseConfig({ policy: { allowlist: ['a', { key: 'b', until: '2026-12-01T00:00:00Z', reason: 'audit' }, { key: 'c', until: 5 }] } }).policy;
    expect(allowlist).toEqual([
      { key: 'a', until: Number.POSITIVE_INFINITY, reason: '' },
      { key: 'b', until: Date.parse('2026-12-01T00:00:00Z'), reason: 'audit' },
      { key: 'c', until: 5, reason: '' },
    ]);
    expect(() => parseConfig({ policy: { allowlist: [{ key: 'b', until: 'next tuesday' }] } })).toThrow(/policy\.allowlist\.0/);
  });

  it('reports unreadable files and invalid YAML as config errors', () => {
    expect(() => loadConfig('/no/such/probewatch.yaml')).toThrow(/cannot read config file/);
    expect(() => loadConfig(file('kafka: [unclosed'))).toThrow(/not valid YAML/);
  });

  it('hashes the detection config, independent of key order', () => {
    const a = parseConfig({ policy: { hysteresis: 0.2, shadow: true } });
    const b = parseConfig({ policy: { shadow: true, hysteresis: 0.2 } });
    const c = parseConfig({ policy: { hysteresis: 0.3 } });
    expect(detectionConfigHash(a)).toBe(detectionConfigHash(b));
    expect(detectionConfigHash(a)).not.toBe(detectionConfigHash(c));
  });
});
