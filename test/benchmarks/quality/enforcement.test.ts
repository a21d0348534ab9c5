import { beforeAll, describe, expect, it } from 'vitest';
import { type AttackSetup } from '../../../benchmarks/quality/attacks/Attack.ts';
import { PatientClient } from '../../../benchmarks/quality/attacks/PatientClient.ts';
import { SybilSpread } from '../../../benchmarks/quality/attacks/SybilSpread.ts';
import { TramerEquationSolving } from '../../../benchmarks/quality/attacks/TramerEquationSolving.ts';
import { Rng } from '../../../benchmarks/quality/Rng.ts';
import type { VictimWorld } from '../../../benchmarks/quality/Victim.ts';
import { type Enforcement, noEnforcement, sdkEnforcement } from '../../../benchmarks/quality/world/Enforcement.ts';
import { HOUR, SECOND, SIM_EPOCH } from '../../../benchmarks/quality/world/Schedule.ts';
import type { Answer, KeyIdentity, QueryApi } from '../../../benchmarks/quality/world/types.ts';
import type { Level } from '../../../src/contract.ts';
import { simulate, smallVictimWorld } from './helpers.ts';

let world: VictimWorld;
beforeAll(async () => {
  world = await smallVictimWorld();
});

const probs = [0.05, 0.7, 0.1, 0.1, 0.05];
const answer: Answer = { probs, label: 1, status: 200 };
const call = (ts: number, x = [0.1, 0.2, 0.3, 0.4, 0.5]) => ({ apiKey: 'k', x, ts });

/** The SDK enforcement, but every call at `level` whatever probewatch says. */
function always(level: Level, settings = {}): Enforcement {
  const sdk = sdkEnforcement(`always ${level}`, settings, 1);
  return { active: true, name: sdk.name, apply: (_level, a, c) => sdk.apply(level, a, c) };
}

describe('the benchmark gateway enforcement', () => {
  it('leaves answers alone without responses', () => {
    expect(noEnforcement.apply('deceive', answer, call(0))).toBe(answer);
  });

  it("applies the SDK Enforcer: top-1 only at truncate, 429 with Retry-After past the throttle's burst in event time", () => {
    const e = sdkEnforcement('t', { throttle: { burst: 2 } }, 1);
    expect(e.apply('truncate', answer, call(SIM_EPOCH))).toEqual({ probs: [], label: 1, status: 200 });
    expect(e.apply('truncate', answer, call(SIM_EPOCH)).status).toBe(200);
    expect(e.apply('truncate', answer, call(SIM_EPOCH))).toEqual({ probs: [], label: -1, status: 429, retryAfterS: 6 });
    expect(e.apply('throttle', answer, call(SIM_EPOCH + 6 * SECOND))).toEqual(answer);
    expect(e.apply('allow', answer, { ...call(SIM_EPOCH), apiKey: 'other' })).toEqual(answer);
  });

  it('deceives with a wrong label by default, the same for a repeated input', () => {
    const e = sdkEnforcement('d', {}, 1);
    const a = e.apply('deceive', answer, call(1));
    expect(a.label).not.toBe(1);
    expect(e.apply('deceive', answer, call(2))).toEqual(a);
  });

  it('deceives a repeated input identically and another input differently, keeping the label, in reverse-sigmoid mode', () => {
    const e = sdkEnforcement('d', { deceive: { mode: 'reverse-sigmoid' } }, 1);
    const a = e.apply('deceive', answer, call(1));
    expect(a.label).toBe(1);
    expect(a.probs).not.toEqual(probs);
    expect(e.apply('deceive', answer, call(2)).probs).toEqual(a.probs);
    expect(e.apply('deceive', answer, call(3, [0, 0, 0, 0, 1])).probs).not.toEqual(a.probs);
  });

  it('lets a confident answer through in adaptive-misinformation mode at τ 0.5', () => {
    const e = sdkEnforcement('m', { deceive: { mode: 'adaptive-misinformation' } }, 1);
    const confident = { probs: [0.02, 0.9, 0.04, 0.02, 0.02], label: 1, status: 200 };
    expect(e.apply('deceive', confident, call(1)).label).toBe(1);
  });
});

describe('PatientClient', () => {
  const key: KeyIdentity = { apiKey: 'p', tenant: null, clientIp: '10.0.0.1' };

  /** An API refusing the calls at the listed indices (429, Retry-After 5 s), recording every call. */
  function api(refuse: Set<number>, status = 429) {
    const calls: { x: number; ts: number }[] = [];
    const q: QueryApi = {
      query: async (_key, xs, times) =>
        xs.map((x, i) => {
          const n = calls.push({ x: x[0], ts: times[i] }) - 1;
          return refuse.has(n) ? { probs: [], label: -1, status, retryAfterS: 5 } : { probs: [1], label: 0, status: 200 };
        }),
    };
    return { q, calls };
  }

  it('sends like Client while nothing is refused', async () => {
    const { q, calls } = api(new Set());
    const client = new PatientClient(q, key, 0);
    const answers = await client.scripted([[1], [2], [3]], 60, new Rng(1));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(calls.map((c) => c.x)).toEqual([1, 2, 3]);
  });

  it('resends refused calls after their Retry-After, then goes one call at a time', async () => {
    const { q, calls } = api(new Set([1, 2, 3, 5]));
    const client = new PatientClient(q, key, 0);
    const answers = await client.scripted([[1], [2], [3]], 60, new Rng(1));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    // calls: 1 ok, 2 and 3 refused; 2 again refused (index 3), 2 ok (4), 3 refused (5), 3 ok (6).
    expect(calls.map((c) => c.x)).toEqual([1, 2, 3, 2, 2, 3, 3]);
    for (const i of [3, 4, 6]) expect(calls[i].ts - calls[i - 1].ts).toBeGreaterThanOrEqual(5 * SECOND);
    await client.scripted([[4], [5]], 60, new Rng(2));
    expect(calls.slice(7).map((c) => c.x)).toEqual([4, 5]);
  });

  it('stops sending once blocked and returns the rest refused', async () => {
    const { q, calls } = api(new Set([1]), 403);
    const client = new PatientClient(q, key, 0);
    const answers = await client.scripted([[1], [2], [3]], 60, new Rng(1));
    expect(answers.map((a) => a.status)).toEqual([200, 403, 200]);
    expect(await client.scripted([[4]], 60, new Rng(1))).toEqual([{ probs: [], label: -1, status: 403 }]);
    expect(calls).toHaveLength(3);
    expect(client.blocked).toBe(true);
  });
});

describe('attacks against a throttling gateway', () => {
  const setup = (name: string, budget: number): AttackSetup => ({ world, budget, start: SIM_EPOCH + 10 * HOUR, rng: new Rng(5).fork(name), surrogate: { hidden: [8], passes: 100, innerPasses: 100 } });

  for (const make of [(s: AttackSetup) => new TramerEquationSolving(s), (s: AttackSetup) => new SybilSpread(s, 3)]) {
    it(`${make(setup('x', 1)).population}: gets its whole budget answered, later, honouring Retry-After`, async () => {
      const record = await simulate(world, [make(setup('throttled', 60))], { enforcement: always('throttle', { throttle: { burst: 5, ratePerMinute: 20 } }) });
      const r = record.actors[0];
      expect(r.exchanges.filter((e) => e.answer.status === 200)).toHaveLength(60);
      expect(r.refused).toBeGreaterThan(0);
      expect(r.calls).toBe(60 + r.refused);
      // Each refused input is resent from the same key, and not before its Retry-After is over.
      r.exchanges.forEach((e, i) => {
        if (e.answer.status !== 429) return;
        const again = r.exchanges.slice(i + 1).find((n) => n.key === e.key && n.x === e.x);
        expect(again).toBeDefined();
        expect(again!.ts - e.ts).toBeGreaterThanOrEqual(e.answer.retryAfterS! * SECOND);
      });
    });
  }
});
