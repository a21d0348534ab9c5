import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import { burst, makeEvent } from '../helpers/events.ts';

const compute = { backend: 'none' } as Compute;
// Only the volume detector: these tests are about the pipeline, not detection.
const config = parseConfig({ detectors: Object.fromEntries([['volume', {}]]) });

function volumeOnly() {
  const metrics = createMetrics();
  const pipeline = new DetectionPipeline(config, { compute, metrics });
  return { pipeline: new DetectionPipeline(config, { compute, metrics, detectors: pipeline.detectors.filter((d) => d.name === 'volume') }), metrics };
}

describe('DetectionPipeline', () => {
  it('publishes a RiskScore at each level change, with events_seen and evidence', () => {
    const { pipeline } = volumeOnly();
    const out = pipeline.processBatch(burst('attacker', 150, 0, 300));
    expect(out.changes.map((c) => [c.level, c.events_seen])).toEqual([
      ['observe', 94],
      ['throttle', 125],
    ]);
    expect(out.changes[1].evidence[0]).toMatch(/^volume: key made 125 calls in the last minute/);
    expect(out.decisions.map((d) => d.level)).toEqual(['observe', 'throttle']);
    expect(out.decisions[1]).toMatchObject({ api_key: 'attacker', shadow: false, expires_at: 124 * 300 + 3_600_000 });
    expect(out.touched).toEqual(['attacker']);
  });

  it("observes each detector's score per event and attributes each decision to the detector leading the risk", async () => {
    const { pipeline, metrics } = volumeOnly();
    const out = pipeline.processBatch([...burst('attacker', 150, 0, 300), ...burst('quiet', 5, 0, 60_000)]);
    const hist = (await metrics.detectorScore.get()).values;
    const count = hist.find((v) => v.metricName === 'probewatch_detector_score_count');
    expect(count).toMatchObject({ labels: { detector: 'volume' }, value: 155 });
    // The attacker's later calls score above 0.5; the quiet key's never do.
    const atMostHalf = hist.find((v) => v.metricName === 'probewatch_detector_score_bucket' && (v.labels as Record<string, unknown>).le === 0.5)!.value;
    expect(atMostHalf).toBeGreaterThanOrEqual(5);
    expect(atMostHalf).toBeLessThan(155);
    const byDetector = (await metrics.decisionsByDetector.get()).values.map((v) => [v.labels.level, v.labels.detector, v.value]);
    expect(byDetector).toEqual(out.decisions.map((d) => [d.level, 'volume', 1]));
  });

  it('drops redelivered events by event_id and counts them', async () => {
    const { pipeline, metrics } = volumeOnly();
    const events = burst('k', 10, 0, 1000);
    pipeline.processBatch(events);
    pipeline.processBatch(events.slice(5));
    expect(pipeline.store.peek('k')!.eventsSeen).toBe(10);
    expect((await metrics.duplicates.get()).values[0].value).toBe(5);
  });

  it('gives the same output whatever the batch size', () => {
    const stream = [...burst('a', 300, 0, 250), ...burst('b', 300, 100, 500)].sort((x, y) => x.ts - y.ts);
    const runWith = (size: number) => {
      const { pipeline } = volumeOnly();
      const changes = [];
      for (let i = 0; i < stream.length; i += size) changes.push(...pipeline.processBatch(stream.slice(i, i + size)).changes);
      return { changes, finals: pipeline.finalScores() };
    };
    const one = runWith(1);
    expect(one.changes.length).toBeGreaterThan(0);
    expect(runWith(7)).toEqual(one);
    expect(runWith(1000)).toEqual(one);
  });

  it('ends with one final RiskScore per key, sorted by key', () => {
    const { pipeline } = volumeOnly();
    pipeline.processBatch([...burst('z', 3, 0, 10), ...burst('a', 2, 0, 10)]);
    const finals = pipeline.finalScores();
    expect(finals.map((f) => [f.api_key, f.events_seen, f.final])).toEqual([
      ['a', 2, true],
      ['z', 3, true],
    ]);
  });

  it('never escalates an allowlisted key and marks shadow decisions', () => {
    const shadow = parseConfig({ policy: { shadow: true, allowlist: ['partner'] } });
    const pipeline = new DetectionPipeline(shadow, { compute });
    const out = pipeline.processBatch([...burst('partner', 200, 0, 100), ...burst('other', 200, 0, 100)]);
    expect(out.changes.every((c) => c.api_key === 'other')).toBe(true);
    expect(out.decisions.length).toBeGreaterThan(0);
    expect(out.decisions.every((d) => d.shadow)).toBe(true);
  });
});

describe('fusion', () => {
  it('lets a rate detector lift risk to its own score but not compound with behavioural evidence', () => {
    const fixed = (name: string, kind: 'rate' | 'behaviour', score: number, family?: 'geometry' | 'output') => ({
      name,
      kind,
      family,
      initState: () => ({}),
      processBatch: (groups: readonly { events: readonly unknown[] }[]) => groups.map((g) => ({ scores: g.events.map(() => score), evidence: [] })),
    });
    const pipeline = (volume: number, behaviour: number) => {
      const p = new DetectionPipeline(config, { compute, detectors: [fixed('volume', 'rate', volume), fixed('shape', 'behaviour', behaviour, 'geometry'), fixed('other', 'behaviour', behaviour, 'output')] });
      p.processBatch(burst('k', 1, 0, 1));
      return p.store.peek('k')!.risk;
    };
    expect(pipeline(0.65, 0)).toBeCloseTo(0.65, 10);
    expect(pipeline(0.65, 0.2)).toBeCloseTo(0.65, 10); // noisy-OR would give 0.776
    expect(pipeline(0, 0.5)).toBeCloseTo(0.75, 10); // 1 - 0.5 * 0.5: two independent families
    expect(pipeline(0.65, 0.5)).toBeCloseTo(0.75, 10);
  });

  it('says why a level the ladder still holds is in force after every score fell to 0', () => {
    let score = 0.9;
    const detector = { name: 'shape', kind: 'behaviour' as const, family: 'geometry' as const, signature: true, initState: () => ({}), processBatch: (groups: readonly { events: readonly unknown[] }[]) => groups.map((g) => ({ scores: g.events.map(() => score), evidence: score > 0 ? ['shape fired'] : [] })) };
    const p = new DetectionPipeline(config, { compute, detectors: [detector] });
    expect(p.processBatch(burst('k', 1, 0, 1)).changes.at(-1)).toMatchObject({ level: 'deceive', evidence: ['shape: shape fired'] });
    score = 0;
    p.processBatch(burst('k', 1, 60_000, 1));
    const [final] = p.finalScores();
    expect(final).toMatchObject({ level: 'deceive', risk: 0 });
    expect(final.evidence).toEqual([`policy: deceive held since ${new Date(0).toISOString()} until ${new Date(24 * 3_600_000).toISOString()} (a level lasts its TTL; risk now 0)`]);
  });

  it('runs a batch with more keys than state.maxKeys in parts, each key held through its part', async () => {
    const small = parseConfig({ detectors: Object.fromEntries([['volume', {}]]), state: { maxKeys: 5 } });
    const metrics = createMetrics();
    const detectors = new DetectionPipeline(small, { compute }).detectors.filter((d) => d.name === 'volume');
    const pipeline = new DetectionPipeline(small, { compute, metrics, detectors });
    // 12 keys of 4 events each, key after key: every part holds whole keys.
    const events = Array.from({ length: 12 }, (_, k) => burst(`k${k}`, 4, k * 10_000, 1_000)).flat();
    const out = pipeline.processBatch(events);
    expect(new Set(out.touched).size).toBe(12);
    expect(pipeline.store.size).toBeLessThanOrEqual(5);
    for (const s of pipeline.store.entries()) expect(s.eventsSeen, s.key).toBe(4);
    expect((await metrics.eventsProcessed.get()).values[0].value).toBe(48);
    expect((await metrics.keysEvicted.get()).values.reduce((n, v) => n + v.value, 0)).toBe(7);
  });
});

describe('DetectionPipeline: recency of keys', () => {
  it('marks keys recently used in the order of their last event in a batch, duplicates included (what capacity evicts first)', () => {
    const small = parseConfig({ detectors: { volume: {} }, state: { maxKeys: 4 } });
    const pipeline = new DetectionPipeline(small, { compute });
    const call = (key: string, id: string, ts: number) => makeEvent({ api_key: key, event_id: id, ts });
    pipeline.processBatch([call('a', 'a1', 0), call('b', 'b1', 1)]);
    // Only redelivered events: 'b' then 'a' then 'b' again, so 'a' is the least recently used.
    pipeline.processBatch([call('b', 'b1', 1), call('a', 'a1', 0), call('b', 'b1', 1)]);
    pipeline.processBatch([call('c', 'c1', 2), call('d', 'd1', 3)]);
    pipeline.processBatch([call('e', 'e1', 4)]);
    expect(['a', 'b', 'c', 'd', 'e'].filter((k) => pipeline.store.has(k))).toEqual(['b', 'c', 'd', 'e']);
  });
});
