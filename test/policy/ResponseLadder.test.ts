import fc from 'fast-check';
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

  describe('persistence: a key that goes on calling under a response', () => {
    const calls = (ladder: ResponseLadder, s: ReturnType<typeof initialLadderState>, risk: number, from: number, n: number, call = true) => {
      let last = ladder.step('k', s, risk, from, null, null, call);
      for (let i = 1; i < n; i++) last = ladder.step('k', s, risk, from + i, null, null, call);
      return last;
    };

    it('steps a key up one rung once it made `calls` calls at truncate, at a call its risk still holds truncate at', () => {
      const ladder = new ResponseLadder(policy({ persistence: { calls: 20 } }));
      const s = initialLadderState();
      expect(ladder.step('k', s, 0.75, 0, null, null, true).level).toBe('truncate'); // the risk raised it: not counted
      // 0.65 is within truncate's hysteresis band: the risk still holds truncate, though it would not raise a key to it.
      expect(calls(ladder, s, 0.65, 1, 19).level).toBe('truncate');
      const up = ladder.step('k', s, 0.65, 20, null, null, true);
      expect(up).toMatchObject({ level: 'deceive', changed: true, decide: true, persisted: 'truncate', expiresAt: 20 + 24 * HOUR });
      expect(s).toMatchObject({ raisedFrom: 'truncate', callsAt: 0 });
      // Were the risk to reach deceive on its own, the level would be the risk's, not persistence's.
      const t = structuredClone(s);
      ladder.step('k', t, 0.9, 21, null, null, true);
      expect(t).toMatchObject({ level: 'deceive', raisedFrom: undefined });
      // toLevel (deceive) is as far as persistence goes.
      expect(calls(ladder, s, 0.65, 21, 200).level).toBe('deceive');
      // The deceive decision lapses at its TTL, not re-issued: the risk never held deceive. The key is back at truncate, unmarked.
      expect(ladder.step('k', s, 0.65, 20 + 24 * HOUR + 1, null, null, true)).toMatchObject({ level: 'truncate', changed: true });
      expect(s.raisedFrom).toBeUndefined();
    });

    it('steps up only at a call the risk holds the level at, and counts no step that is not a call (group readings)', () => {
      const ladder = new ResponseLadder(policy({ persistence: { calls: 5 } }));
      const s = initialLadderState();
      ladder.step('k', s, 0.75, 0, null, null, true);
      expect(calls(ladder, s, 0.75, 100, 50, false).level).toBe('truncate');
      expect(s.callsAt).toBe(0);
      // 0.55 is below truncate's hysteresis band: truncate lasts its TTL, but the key is not held there by its risk.
      expect(calls(ladder, s, 0.55, 200, 50).level).toBe('truncate');
      expect(s.callsAt).toBe(50);
      expect(ladder.step('k', s, 0.65, 300, null, null, true)).toMatchObject({ level: 'deceive', persisted: 'truncate' });
    });

    it('does nothing when disabled, below fromLevel, or at the policy\'s maxLevel', () => {
      const off = new ResponseLadder(policy({ persistence: { enabled: false, calls: 5 } }));
      const s = initialLadderState();
      expect(calls(off, s, 0.75, 0, 100).level).toBe('truncate');
      const throttled = new ResponseLadder(policy({ persistence: { calls: 5 } }));
      const t = initialLadderState();
      expect(calls(throttled, t, 0.55, 0, 100).level).toBe('throttle');
      const capped = new ResponseLadder(policy({ maxLevel: 'truncate', persistence: { calls: 5 } }));
      const u = initialLadderState();
      const held = calls(capped, u, 0.75, 0, 100);
      expect(held.level).toBe('truncate');
      expect(held.persisted).toBeUndefined();
      // From throttle, when a deployment asks for it.
      const early = new ResponseLadder(policy({ persistence: { fromLevel: 'throttle', calls: 5 } }));
      const v = initialLadderState();
      expect(calls(early, v, 0.55, 0, 6).level).toBe('truncate');
      // A rung persistence raised the key to is left only at a call the risk holds it at: 0.55 does not hold truncate.
      expect(calls(early, v, 0.55, 10, 50).level).toBe('truncate');
      expect(early.step('k', v, 0.65, 100, null, null, true).level).toBe('deceive');
    });

    it('never takes a key past toLevel or maxLevel, nor above the level its risk reached, on any risk series (property)', () => {
      const rank = (l: string) => ['allow', 'observe', 'throttle', 'truncate', 'deceive', 'block'].indexOf(l);
      fc.assert(
        fc.property(
          fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 300 }),
          fc.constantFrom('deceive', 'block'),
          fc.constantFrom('throttle', 'truncate', 'deceive', 'block'),
          fc.integer({ min: 1, max: 20 }),
          (risks, toLevel, maxLevel, n) => {
            const config = policy({ maxLevel, persistence: { calls: n, toLevel } });
            const ladder = new ResponseLadder(config);
            const bare = new ResponseLadder(policy({ maxLevel, persistence: { enabled: false } }));
            const s = initialLadderState();
            const t = initialLadderState();
            for (let i = 0; i < risks.length; i++) {
              const level = ladder.step('k', s, risks[i], i * 1000, null, null, true).level;
              const without = bare.step('k', t, risks[i], i * 1000, null, null, true).level;
              expect(rank(level)).toBeLessThanOrEqual(rank(maxLevel));
              // Persistence adds at most the rungs from truncate up to toLevel over what the risk alone decides.
              if (rank(level) > rank(without)) {
                expect(rank(without)).toBeGreaterThanOrEqual(rank('truncate'));
                expect(rank(level)).toBeLessThanOrEqual(Math.max(rank(toLevel), rank(without)));
                expect(s.raisedFrom).toBeDefined();
              }
            }
          },
        ),
        { numRuns: 200 },
      );
    });

    it('takes snapshots written before it (no call count) as none made', () => {
      const ladder = new ResponseLadder(policy({ persistence: { calls: 3 } }));
      const old = { level: 'truncate' as const, since: 0, expiresAt: 6 * HOUR, decidedAt: 0 };
      expect(calls(ladder, old, 0.75, 1, 2).level).toBe('truncate');
      expect(ladder.step('k', old, 0.75, 3, null, null, true).level).toBe('deceive');
    });

    it('rejects a fromLevel that is not below toLevel, naming the key', () => {
      expect(() => policy({ persistence: { fromLevel: 'deceive', toLevel: 'truncate' } })).toThrow(/persistence\.toLevel/);
    });
  });
});
