import { describe, expect, it } from 'vitest';
import { EventGate } from '../../src/pipeline/EventGate.ts';
import { KeyStateStore } from '../../src/state/KeyStateStore.ts';
import { makeEvent } from '../helpers/events.ts';

const NOW = 1_750_000_000_000;
const HOUR = 3_600_000;

function gate() {
  const store = new KeyStateStore({ maxKeys: 10, idleEvictMs: 1e12, dedupWindow: 0 });
  return { gate: new EventGate({ maxLatenessMs: 6 * HOUR, maxFutureMs: HOUR }, store), store };
}

describe('EventGate', () => {
  it('refuses far-future and late events per partition, without moving event time for them', () => {
    const { gate: g } = gate();
    expect(g.check(makeEvent({ ts: NOW - 10 * HOUR }), 'p0', NOW)).toBeUndefined();
    expect(g.check(makeEvent({ ts: Date.UTC(2200, 0, 1) }), 'p0', NOW)?.reason).toBe('event_future');
    // The refused stamp did not move the partition's clock: an event an hour later is still on time.
    expect(g.check(makeEvent({ ts: NOW - 9 * HOUR }), 'p0', NOW)).toBeUndefined();
    expect(g.check(makeEvent({ ts: NOW - 16 * HOUR }), 'p0', NOW)?.reason).toBe('event_late');
    // Another partition keeps its own time.
    expect(g.check(makeEvent({ ts: NOW - 16 * HOUR }), 'p1', NOW)).toBeUndefined();
    g.reset();
    expect(g.check(makeEvent({ ts: NOW - 16 * HOUR }), 'p0', NOW)).toBeUndefined();
  });

  it('fixes a model’s sketch width and class count by its first events and keeps them in the model entity', () => {
    const { gate: g, store } = gate();
    const e = (sketch: number, classes: number, model = 'm1') =>
      makeEvent({ ts: NOW, model_id: model, input_sketch: Array(sketch).fill(0.1), output_probs: classes ? Array(classes).fill(1 / classes) : [] });
    expect(g.check(e(0, 3), 'p', NOW)).toBeUndefined();
    expect(g.check(e(16, 0), 'p', NOW)).toBeUndefined();
    expect(g.check(e(32, 3), 'p', NOW)?.reason).toBe('sketch_width_changed');
    expect(g.check(e(16, 4), 'p', NOW)?.reason).toBe('classes_changed');
    expect(g.check(e(0, 0), 'p', NOW)).toBeUndefined();
    expect(g.check(e(32, 4, 'm2'), 'p', NOW)).toBeUndefined();
    expect(store.aggregates.get('model:m1')).toMatchObject({ 'input-shape': { width: 16, classes: 3 } });
  });
});
