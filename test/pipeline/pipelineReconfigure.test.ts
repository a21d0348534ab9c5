import { describe, expect, it } from 'vitest';
import { DETECTORS } from '../../detectors/index.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import { burst } from '../helpers/events.ts';

const compute = { backend: 'none' } as Compute;
// Volume and entropy only (neither needs the compute backend); the others switched off.
const only = (on: Record<string, object>) => Object.fromEntries(DETECTORS.map((d) => [d.name, on[d.name] ?? { enabled: false }]));
const high = { observe: 0.9, throttle: 0.92, truncate: 0.94, deceive: 0.96, block: 0.98 };

describe('DetectionPipeline.reconfigure (hot reload)', () => {
  it('puts new thresholds in force and keeps every key state, resetting only detectors whose settings changed', () => {
    const pipeline = new DetectionPipeline(parseConfig({ detectors: only({ volume: {}, entropy: {} }), policy: { thresholds: high } }), { compute });
    const first = pipeline.processBatch(burst('attacker', 150, 0, 300));
    expect(first.changes).toEqual([]);
    const before = structuredClone(pipeline.store.peek('attacker')!);
    expect(before.risk).toBeGreaterThan(0.5);

    // Same detector settings, weights aside; default thresholds.
    const reset = pipeline.reconfigure(parseConfig({ detectors: only({ volume: { weight: 0.9 }, entropy: {} }) }));
    expect(reset).toEqual([]);
    const second = pipeline.processBatch(burst('attacker', 10, 150 * 300, 300));
    const state = pipeline.store.peek('attacker')!;
    expect(state.eventsSeen).toBe(160);
    expect(second.changes.map((c) => c.level)).toContain('throttle');
    expect(second.escalations[0]).toMatchObject({ from: 'allow', score: { api_key: 'attacker' }, decision: { api_key: 'attacker' } });
    // Volume's windows went on counting from the 150 calls before the reload.
    expect(second.changes[0].evidence.join(' ')).toMatch(/key made 1\d\d calls in the last minute/);

    // Volume's own limits change: its state starts afresh; entropy's is kept.
    const entropyBefore = structuredClone(state.detectors.entropy);
    expect(pipeline.reconfigure(parseConfig({ detectors: only({ volume: { key: { minute: 1_000 } }, entropy: {} }) }))).toEqual(['volume']);
    pipeline.processBatch(burst('attacker', 1, 160 * 300, 300));
    expect(pipeline.store.peek('attacker')!.detectors.entropy).not.toEqual(entropyBefore); // it saw one more event…
    const fresh = new DetectionPipeline(parseConfig({ detectors: only({ volume: { key: { minute: 1_000 } } }) }), { compute });
    fresh.processBatch(burst('other', 1, 160 * 300, 300));
    // …while volume's state is what one event on fresh state gives.
    expect(pipeline.store.peek('attacker')!.detectors.volume).toEqual(fresh.store.peek('other')!.detectors.volume);
    expect(pipeline.store.peek('attacker')!.eventsSeen).toBe(161);
  });

  it('starts afresh a restored snapshot built under settings a reload replaced, and keeps one a restart finds', () => {
    const A = parseConfig({ detectors: only({ volume: {} }) });
    const B = parseConfig({ detectors: only({ volume: { key: { minute: 1_000 } } }) });
    const pipeline = new DetectionPipeline(A, { compute });
    pipeline.processBatch(burst('k', 50, 0, 1000));
    const underA = structuredClone(pipeline.store.peek('k')!);
    const volumeAfter = (p: DetectionPipeline, snapshot: typeof underA) => {
      p.store.delete('k');
      p.store.put(structuredClone(snapshot));
      p.processBatch(burst('k', 1, 50_000, 1000));
      return p.store.peek('k')!.detectors.volume as { key: unknown };
    };
    const continued = volumeAfter(new DetectionPipeline(A, { compute }), underA);
    const fresh = new DetectionPipeline(A, { compute });
    fresh.processBatch(burst('k', 1, 50_000, 1000));
    const restarted = fresh.store.peek('k')!.detectors.volume;
    expect(continued).not.toEqual(restarted);

    // Reloaded to B: a key restored from a snapshot made under A starts afresh (as on a fresh B pipeline).
    pipeline.reconfigure(B);
    const freshB = new DetectionPipeline(B, { compute });
    freshB.processBatch(burst('k', 1, 50_000, 1000));
    expect(volumeAfter(pipeline, underA)).toEqual(freshB.store.peek('k')!.detectors.volume);
    // Back to A: state made under A fits again.
    pipeline.reconfigure(A);
    expect(volumeAfter(pipeline, underA)).toEqual(continued);
    // A restart under B (no reload in this process) keeps the snapshot's state, as before reloads existed.
    expect(volumeAfter(new DetectionPipeline(B, { compute }), underA)).not.toEqual(freshB.store.peek('k')!.detectors.volume);
  });

  it('keeps a detector state built under the same settings, and drops the last score of a detector switched off', () => {
    const config = parseConfig({ detectors: only({ volume: {}, entropy: {} }) });
    const pipeline = new DetectionPipeline(config, { compute });
    pipeline.processBatch(burst('k', 50, 0, 1000));
    const volumeState = structuredClone(pipeline.store.peek('k')!.detectors.volume);
    expect(Object.keys(pipeline.store.peek('k')!.scores).sort()).toEqual(['entropy', 'volume']);
    pipeline.reconfigure(parseConfig({ detectors: only({ volume: {} }) }));
    expect(pipeline.detectors.map((d) => d.name)).toEqual(['volume']);
    expect(pipeline.store.peek('k')!.detectors.volume).toEqual(volumeState);
    expect(Object.keys(pipeline.store.peek('k')!.scores)).toEqual(['volume']);
    const out = pipeline.processBatch(burst('k', 1, 50_000, 1000));
    expect(out.touched).toEqual(['k']);
    expect(pipeline.finalScores()[0].detectors).not.toHaveProperty('entropy');
  });
});
