import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { initialLadderState, ResponseLadder } from '../../src/policy/ResponseLadder.ts';

const HOUR = 3_600_000;
const policy = (over: Record<string, unknown> = {}) => parseConfig({ policy: over }).policy;

describe('ResponseLadder', () => {
  it('escalates at once to the highest level the risk reaches, within maxLevel', () => {
    const ladder = new ResponseLadder(policy());
    const s = initialLadderState();
    expect(ladder.step('k', s, 0.2, 0)).toMatchObject({ level: 'allow', changed: false });
    expect(ladder.step('k', s, 0.75, 1)).toMatchObject({ level: 'truncate', changed: true, decide: true, expiresAt: 1 + 6 * HOUR });
    expect(ladder.step('k', s, 0.99, 2).level).toBe('deceive'); // block is above the default maxLevel
  });

  it('does not step down before the TTL, nor while risk is within the hysteresis band', () => {
    const ladder = new ResponseLadder(policy());
    const s = initialLadderState();
    ladder.step('k', s, 0.55, 0); // throttle, ttl 1h
    expect(ladder.step('k', s, 0.1, HOUR / 2).level).toBe('throttle');
    // 0.45 is within the hysteresis band of throttle (0.45 + 0.1 >= 0.5): held, and re-issued.
    expect(ladder.step('k', s, 0.45, HOUR + 1)).toMatchObject({ level: 'throttle', decide: true, expiresAt: 2 * HOUR + 1 });
    expect(ladder.step('k', s, 0.35, 2 * HOUR)).toMatchObject({ level: 'throttle', changed: false });
    expect(ladder.step('k', s, 0.35, 2 * HOUR + 1)).toMatchObject({ level: 'observe', changed: true });
  });

  it('re-issues a decision the risk still supports before it expires', () => {
    const ladder = new ResponseLadder(policy());
    const s = initialLadderState();
    ladder.step('k', s, 0.6, 0);
    expect(ladder.step('k', s, 0.6, HOUR / 4).decide).toBe(false);
    const refreshed = ladder.step('k', s, 0.6, HOUR / 2);
    expect(refreshed).toMatchObject({ decide: true, changed: false, expiresAt: HOUR / 2 + HOUR });
    // Once the risk no longer supports it, no refresh: the level lapses at expiry.
    expect(ladder.step('k', s, 0.1, HOUR).decide).toBe(false);
    expect(ladder.step('k', s, 0.1, 1.5 * HOUR + 1).level).toBe('allow');
  });

  it('never escalates an allowlisted key', () => {
    const ladder = new ResponseLadder(policy({ allowlist: ['trusted'] }));
    expect(ladder.step('trusted', initialLadderState(), 1, 0).level).toBe('allow');
  });
});
