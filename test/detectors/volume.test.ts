import { describe, expect, it } from 'vitest';
import { VolumeDetector, volumeConfigSchema } from '../../detectors/volume.ts';
import type { DetectorContext } from '../../detectors/types.ts';
import { burst } from '../helpers/events.ts';

const MIN = 60_000;

function context(): DetectorContext {
  const entities = new Map<string, unknown>();
  return {
    compute: { backend: 'none' } as DetectorContext['compute'],
    reference: () => null,
    aggregate: <T>(entity: string, init: () => T) => {
      if (!entities.has(entity)) entities.set(entity, init());
      return entities.get(entity) as T;
    },
  };
}

function run(detector: VolumeDetector, groups: { key: string; events: ReturnType<typeof burst> }[], ctx = context()) {
  const states = new Map<string, unknown>();
  return groups.map((g) => {
    if (!states.has(g.key)) states.set(g.key, detector.initState());
    return detector.processBatch([{ key: g.key, events: g.events, state: states.get(g.key) as never }], ctx)[0];
  });
}

describe('volume detector', () => {
  const detector = new VolumeDetector(volumeConfigSchema.parse({}));

  it('stays quiet for a steady user well under the limits', () => {
    const [out] = run(detector, [{ key: 'k', events: burst('k', 600, 0, 1.2 * MIN) }]); // 50/hour for 12 hours
    expect(Math.max(...Array.from(out.scores))).toBe(0);
    expect(out.evidence).toEqual([]);
  });

  it('rises past the per-minute limit and says why', () => {
    const [out] = run(detector, [{ key: 'k', events: burst('k', 150, 0, 300) }]); // 200/min
    const scores = Array.from(out.scores);
    expect(scores[70]).toBe(0); // 71 calls in the minute: under softRatio
    expect(scores[99]).toBeCloseTo(0.45, 5); // exactly at the limit: observe, not yet throttle
    expect(scores[124]).toBeCloseTo(0.5, 5); // a quarter past it: throttle
    expect(scores[149]).toBeGreaterThan(0.5);
    expect(scores[149]).toBeLessThanOrEqual(0.65);
    expect(out.evidence[0]).toMatch(/key made 150 calls in the last minute \(limit 100\)/);
  });

  it('scores the daily horizon for a key that stays under the per-minute limit', () => {
    const [out] = run(detector, [{ key: 'k', events: burst('k', 6500, 0, 10_000) }]); // 6/min for ~18h
    expect(out.scores[out.scores.length - 1]).toBeGreaterThan(0.5);
    expect(out.evidence[0]).toMatch(/in the last day \(limit 5000\)/);
  });

  it('only observes an honest heavy user who runs at its limits, never throttles it', () => {
    // A batch job: 100 calls a minute for an hour (6,000, the hour limit), then idle until tomorrow.
    const job = burst('k', 6_000, 0, 600);
    const [out] = run(detector, [{ key: 'k', events: job }]);
    const peak = Math.max(...Array.from(out.scores));
    expect(peak).toBeGreaterThanOrEqual(0.3);
    expect(peak).toBeLessThan(0.5);
  });

  it('adds up keys behind one client address (a key rotator)', () => {
    const ctx = context();
    const groups = Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, events: burst(`k${i}`, 80, 0, 700, { client_ip: '192.0.2.9' }) }));
    const outs = run(detector, groups, ctx);
    expect(Math.max(...outs.slice(0, 3).map((o) => Math.max(...Array.from(o.scores))))).toBe(0);
    expect(outs[4].scores[79]).toBeGreaterThan(0.5); // 400 calls/min from one address
    expect(outs[4].evidence[0]).toMatch(/client 192\.0\.2\.9 made \d+ calls in the last minute/);
  });

  it('scores keys behind one address the same however the stream is cut into polls', () => {
    const keys = Array.from({ length: 5 }, (_, i) => `k${i}`);
    // Five keys behind one address, their calls interleaved in time (400/min together).
    const events = keys.flatMap((k, i) => burst(k, 80, i * 137, 750, { client_ip: '192.0.2.9' })).sort((a, b) => a.ts - b.ts);
    const byKey = (evs: typeof events) => keys.map((key) => ({ key, events: evs.filter((e) => e.api_key === key) })).filter((g) => g.events.length > 0);
    const scoresOf = (polls: (typeof events)[]) => {
      const ctx = context();
      const states = new Map(keys.map((k) => [k, detector.initState()]));
      const out = new Map<string, number[]>(keys.map((k) => [k, []]));
      for (const poll of polls) {
        const groups = byKey(poll);
        const outputs = detector.processBatch(groups.map((g) => ({ ...g, state: states.get(g.key) as never })), ctx);
        groups.forEach((g, n) => out.get(g.key)!.push(...Array.from(outputs[n].scores)));
      }
      return out;
    };
    const whole = scoresOf([events]);
    const oneByOne = scoresOf(events.map((e) => [e]));
    expect(Math.max(...whole.get('k4')!)).toBeGreaterThan(0.5);
    for (const k of keys) expect(whole.get(k), k).toEqual(oneByOne.get(k));
  });

  it('arrests a spike against the key’s own baseline', () => {
    const quiet = burst('k', 60, 0, 30_000); // 2/min for 30 min
    const spike = burst('k', 40, 31 * MIN, 1000); // then 40 in 40 s
    const [out] = run(detector, [{ key: 'k', events: [...quiet, ...spike] }]);
    expect(out.scores[out.scores.length - 1]).toBeCloseTo(0.45, 5);
    expect(out.evidence[0]).toMatch(/calls this minute, \d+\.\dx the key's baseline/);
  });
});
