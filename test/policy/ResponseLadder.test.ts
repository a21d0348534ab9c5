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
    // Stepwise decay (the default): one rung down, which then dwells its own TTL.
    expect(ladder.step('k', s, 0.1, 1.5 * HOUR + 1)).toMatchObject({ level: 'observe', changed: true, expiresAt: 2.5 * HOUR + 1 });
    expect(ladder.step('k', s, 0.1, 2.5 * HOUR).level).toBe('observe');
    expect(ladder.step('k', s, 0.1, 2.5 * HOUR + 1).level).toBe('allow');
  });

  it('decays straight to the level the risk supports under decay: direct', () => {
    const ladder = new ResponseLadder(policy({ decay: 'direct' }));
    const s = initialLadderState();
    ladder.step('k', s, 0.9, 0); // deceive, 24 h
    expect(ladder.step('k', s, 0.55, 24 * HOUR + 1).level).toBe('throttle');
    const stepwise = new ResponseLadder(policy());
    const t = initialLadderState();
    stepwise.step('k', t, 0.9, 0);
    expect(stepwise.step('k', t, 0.55, 24 * HOUR + 1).level).toBe('truncate');
  });

  it('never escalates an allowlisted key', () => {
    const ladder = new ResponseLadder(policy({ allowlist: ['trusted'] }));
    expect(ladder.step('trusted', initialLadderState(), 1, 0).level).toBe('allow');
  });

  it('lets an allowlist entry lapse at its expiry (event time), and lifts a level when a key is allowlisted', () => {
    const until = Date.parse('2026-03-01T00:00:00Z');
    const ladder = new ResponseLadder(policy({ allowlist: [{ key: 'pentest', until: '2026-03-01T00:00:00Z', reason: 'red team, ticket 42' }] }));
    const s = initialLadderState();
    expect(ladder.step('pentest', s, 1, until - 1)).toMatchObject({ level: 'allow', allowlisted: 'red team, ticket 42' });
    const after = ladder.step('pentest', s, 1, until);
    expect(after).toMatchObject({ level: 'deceive', changed: true });
    expect(after.allowlisted).toBeUndefined();
    // An entry added while a key is escalated brings it back to allow at its next event.
    const lifted = new ResponseLadder(policy({ allowlist: [{ key: 'k' }] }));
    expect(lifted.step('k', s, 1, until + 1)).toMatchObject({ level: 'allow', changed: true, decide: true });
  });

  it('meets repeat offenders with lower thresholds and longer TTLs', () => {
    const ladder = new ResponseLadder(policy({ decay: 'direct' }));
    const s = initialLadderState();
    expect(ladder.step('k', s, 0.75, 0)).toMatchObject({ level: 'truncate', priorOffences: 0, expiresAt: 6 * HOUR });
    expect(ladder.step('k', s, 0.0, 6 * HOUR)).toMatchObject({ level: 'allow' });
    // First offence on record: every threshold is 0.05 lower (truncate at 0.65) and TTLs double.
    expect(ladder.step('k', s, 0.66, 7 * HOUR)).toMatchObject({ level: 'truncate', changed: true, priorOffences: 1, expiresAt: 7 * HOUR + 12 * HOUR });
    // A first-time key at the same risk only reaches throttle.
    expect(ladder.step('other', initialLadderState(), 0.66, 7 * HOUR).level).toBe('throttle');
    // Offences older than the window are forgotten.
    const later = 7 * HOUR + 31 * 24 * HOUR;
    ladder.step('k', s, 0, later);
    expect(ladder.step('k', s, 0.66, later + 1)).toMatchObject({ level: 'throttle', priorOffences: 0 });
  });

  it('caps the discount at maxSteps and keeps the offence record bounded', () => {
    const ladder = new ResponseLadder(policy({ decay: 'direct', repeatOffenders: { maxSteps: 2, thresholdStep: 0.1, ttlFactor: 1 } }));
    const s = initialLadderState();
    let ts = 0;
    for (let i = 0; i < 6; i++) {
      ladder.step('k', s, 0.95, ts);
      ts += 25 * HOUR;
      ladder.step('k', s, 0, ts);
      ts += 1;
    }
    expect(s.offences!.length).toBeLessThanOrEqual(3);
    // Two steps of 0.1: truncate at 0.5, throttle at 0.3.
    expect(ladder.step('k', s, 0.5, ts)).toMatchObject({ level: 'truncate', priorOffences: 2 });
  });

  it('applies per-tenant thresholds, caps and shadow over the global policy', () => {
    const ladder = new ResponseLadder(policy({ tenants: { research: { thresholds: { truncate: 0.8, deceive: 0.9 }, maxLevel: 'truncate' }, trial: { shadow: true } } }));
    expect(ladder.step('a', initialLadderState(), 0.75, 0, 'research').level).toBe('throttle');
    expect(ladder.step('b', initialLadderState(), 0.99, 0, 'research').level).toBe('truncate');
    expect(ladder.step('c', initialLadderState(), 0.75, 0, 'other').level).toBe('truncate');
    expect(ladder.step('d', initialLadderState(), 0.75, 0, null).level).toBe('truncate');
    expect(ladder.shadow('trial')).toBe(true);
    expect(ladder.shadow('research')).toBe(false);
  });
});
