import { describe, expect, it } from 'vitest';
import { changedPaths, configChanges, withLiveSettings } from '../../src/config/configChanges.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';

describe('configChanges', () => {
  it('lists changed leaves as dotted paths, arrays as a whole', () => {
    expect(changedPaths({ a: { b: 1, c: [1, 2] }, d: 'x' }, { a: { b: 2, c: [1, 2] }, d: 'x' })).toEqual(['a.b']);
    expect(changedPaths({ a: { c: [1, 2] } }, { a: { c: [1, 3] } })).toEqual(['a.c']);
    expect(changedPaths({ a: 1 }, { a: 1, b: 2 })).toEqual(['b']);
  });

  it('splits changes into live ones and ones that need a restart', () => {
    const current = parseConfig({});
    const next = parseConfig({ policy: { thresholds: { observe: 0.2 } }, kafka: { brokers: ['b:1'] }, http: { port: 1 }, alerts: { minLevel: 'deceive', topic: 'alerts' }, logLevel: 'warn' });
    const changes = configChanges(current, next);
    expect(changes.live).toEqual(['alerts.minLevel', 'logLevel', 'policy.thresholds.observe']);
    expect(changes.restart).toEqual(['alerts.topic', 'http.port', 'kafka.brokers']);
    expect(configChanges(current, parseConfig({}))).toEqual({ live: [], restart: [] });
  });

  it('takes the live settings from the new config and keeps the running ones for the rest', () => {
    const current = parseConfig({ http: { port: 9 } });
    const next = parseConfig({ http: { port: 1 }, policy: { shadow: true }, detectors: { volume: { weight: 0.5 } }, alerts: { minLevel: 'block', queueSize: 5 } });
    const merged = withLiveSettings(current, next);
    expect(merged.http.port).toBe(9);
    expect(merged.policy.shadow).toBe(true);
    expect((merged.detectors as Record<string, { weight: number }>).volume.weight).toBe(0.5);
    expect(merged.alerts.minLevel).toBe('block');
    expect(merged.alerts.queueSize).toBe(current.alerts.queueSize);
    expect(configChanges(merged, next).live).toEqual([]);
    expect(configChanges(merged, next).restart).toEqual(['alerts.queueSize', 'http.port']);
  });
});
