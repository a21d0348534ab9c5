import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Level } from '../../src/contract.ts';
import { countByLevel, type KeyStateView, topKeys } from '../../src/observability/keyStateGauges.ts';
import { createMetrics } from '../../src/observability/metrics.ts';

const view = (key: string, level: Level, risk: number, scores: Record<string, number> = {}): KeyStateView => ({ key, risk, ladder: { level }, scores });

describe('key-state gauges', () => {
  it('counts keys at every level, 0 where none', () => {
    expect(countByLevel([view('a', 'block', 0.9), view('b', 'allow', 0), view('c', 'block', 0.95)])).toEqual({
      allow: 1,
      observe: 0,
      throttle: 0,
      truncate: 0,
      deceive: 0,
      block: 2,
    });
  });

  it('keeps the n keys highest on the ladder, then by risk, and leaves out quiet keys', () => {
    const keys = [view('low', 'observe', 0.4), view('quiet', 'allow', 0), view('blocked', 'block', 0.2), view('hot', 'truncate', 0.8), view('warm', 'throttle', 0.6), view('b-hot', 'truncate', 0.8)];
    expect(topKeys(keys, 3).map((k) => k.key)).toEqual(['blocked', 'b-hot', 'hot']);
    expect(topKeys(keys, 10).map((k) => k.key)).toEqual(['blocked', 'b-hot', 'hot', 'warm', 'low']);
    // The same set whatever the order the store yields keys in.
    expect(topKeys([...keys].reverse(), 3)).toEqual(topKeys(keys, 3));
  });

  it('exports the gauges at scrape time, bounded to the top keys, dropping a key that left the top', async () => {
    const metrics = createMetrics(new Registry(), { topKeys: 2 });
    const keys = new Map([
      ['a', view('a', 'deceive', 0.9, { volume: 0.1, 'grid-sweep': 0.95 })],
      ['b', view('b', 'throttle', 0.5, { volume: 0.7, 'grid-sweep': 0 })],
      ['c', view('c', 'observe', 0.3, { volume: 0.3, 'grid-sweep': 0 })],
      ['d', view('d', 'allow', 0, { volume: 0, 'grid-sweep': 0 })],
    ]);
    metrics.observeKeys(() => keys.values());
    let text = await metrics.registry.metrics();
    expect(text).toContain('probewatch_keys_at_level{level="deceive"} 1');
    expect(text).toContain('probewatch_keys_at_level{level="block"} 0');
    expect(text).toContain('probewatch_top_key_risk{api_key="a"} 0.9');
    expect(text).toContain('probewatch_top_key_level{api_key="a"} 4');
    expect(text).toContain('probewatch_top_key_detector_score{api_key="a",detector="grid-sweep"} 0.95');
    expect(text).toContain('probewatch_top_key_risk{api_key="b"} 0.5');
    expect(text).not.toContain('api_key="c"');

    // c climbs past b: b's series are gone at the next scrape, not left at their last value.
    keys.set('c', view('c', 'truncate', 0.75, { volume: 0.2, 'grid-sweep': 0.8 }));
    text = await metrics.registry.metrics();
    expect(text).toContain('probewatch_top_key_risk{api_key="c"} 0.75');
    expect(text).not.toContain('api_key="b"');
    expect(text.match(/^probewatch_top_key_risk\{/gm)).toHaveLength(2);
    expect(text.match(/^probewatch_top_key_detector_score\{/gm)).toHaveLength(4);
  });

  it('exports no per-key series until a key source is set (replay, tests)', async () => {
    const text = await createMetrics(new Registry()).registry.metrics();
    expect(text).not.toMatch(/^probewatch_keys_at_level\{/m);
    expect(text).not.toMatch(/^probewatch_top_key_risk\{/m);
  });
});
