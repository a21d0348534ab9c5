import { describe, expect, it } from 'vitest';
import { SimulatedGateway } from '../../src/sim/SimulatedGateway.ts';
import { makeEvent } from '../helpers/events.ts';

const probs = [0.7, 0.2, 0.1];
const call = (key: string, ts: number) => makeEvent({ api_key: key, ts, output_probs: probs, output_label: 0 });

describe('SimulatedGateway', () => {
  it('applies the decision in force to each call and reports what it returned, until the decision lapses', () => {
    const gateway = new SimulatedGateway();
    gateway.receive([
      { api_key: 'thief', level: 'truncate', reason: 'r', expires_at: 10_000, shadow: false },
      { api_key: 'watched', level: 'deceive', reason: 'r', expires_at: 10_000, shadow: true },
      { api_key: 'banned', level: 'block', reason: 'r', expires_at: 10_000, shadow: false },
    ]);
    const truncated = gateway.serve(call('thief', 1_000));
    expect(truncated).toMatchObject({ status: 200, enforcement: 'truncate', output_probs: [], output_label: 0 });
    expect(gateway.serve(call('watched', 1_000))).toMatchObject({ status: 200, enforcement: null, output_probs: probs }); // shadow: not enforced
    expect(gateway.serve(call('banned', 1_000))).toMatchObject({ status: 403, enforcement: 'block', output_probs: [] });
    expect(gateway.serve(call('thief', 10_000))).toMatchObject({ status: 200, enforcement: null, output_probs: probs }); // lapsed
    expect(gateway.countsFor('thief')).toEqual({ untouched: 1, refused: 0, truncated: 1, deceived: 0, blocked: 0 });
    expect(gateway.countsFor('banned').blocked).toBe(1);
  });

  it('throttles at the SDK default rate in event time', () => {
    const gateway = new SimulatedGateway();
    gateway.receive([{ api_key: 'k', level: 'throttle', reason: 'r', expires_at: 3_600_000, shadow: false }]);
    const statuses = Array.from({ length: 30 }, (_, i) => gateway.serve(call('k', 1_000 + i * 100)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10); // the burst of 10
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);
    expect(gateway.serve(call('k', 1_000 + 60_000)).status).toBe(200); // refilled a minute later
  });
});
