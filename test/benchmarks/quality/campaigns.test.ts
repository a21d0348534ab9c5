import { beforeAll, describe, expect, it } from 'vitest';
import { type Attack, type AttackSetup, uniformInBox } from '../../../benchmarks/quality/attacks/Attack.ts';
import { BaselinePoisoner } from '../../../benchmarks/quality/attacks/BaselinePoisoner.ts';
import { HalfNaturalHalfUniform } from '../../../benchmarks/quality/attacks/HalfNaturalHalfUniform.ts';
import { KeyRotator } from '../../../benchmarks/quality/attacks/KeyRotator.ts';
import { OfficeHoursThief } from '../../../benchmarks/quality/attacks/OfficeHoursThief.ts';
import { PapernotRawSpace } from '../../../benchmarks/quality/attacks/PapernotRawSpace.ts';
import { RawSpace } from '../../../benchmarks/quality/attacks/RawSpace.ts';
import { surrogateFromExchanges } from '../../../benchmarks/quality/attacks/Surrogate.ts';
import { TramerEquationSolving } from '../../../benchmarks/quality/attacks/TramerEquationSolving.ts';
import { UncertaintySampling, uncertainty } from '../../../benchmarks/quality/attacks/UncertaintySampling.ts';
import { argmax, predictProbs, topOneAgreement } from '../../../benchmarks/quality/Classifier.ts';
import { Rng } from '../../../benchmarks/quality/Rng.ts';
import type { VictimWorld } from '../../../benchmarks/quality/Victim.ts';
import { DAY, HOUR, MINUTE, SECOND, SIM_EPOCH } from '../../../benchmarks/quality/world/Schedule.ts';
import type { Answer, KeyIdentity, QueryApi } from '../../../benchmarks/quality/world/types.ts';
import type { ActorRecord } from '../../../benchmarks/quality/world/World.ts';
import { simulate, smallVictimWorld } from './helpers.ts';
import { clock, dist2, median, nearest } from './recorded.ts';

const BUDGET = 240;
const SURROGATE = { hidden: [16], passes: 6_000, innerPasses: 2_000 };

let world: VictimWorld;
let uniformX: number[][];
let uniformVictim: number[][];

beforeAll(async () => {
  world = await smallVictimWorld();
  const rng = new Rng(99);
  uniformX = Array.from({ length: 400 }, () => uniformInBox(rng, world.box));
  uniformVictim = world.victim.predict(uniformX);
});

function setup(name: string, budget = BUDGET, seed = 7): AttackSetup {
  return { world, budget, start: SIM_EPOCH + 10 * HOUR, rng: new Rng(seed).fork(name), surrogate: SURROGATE };
}

async function runAttack(attack: Attack): Promise<ActorRecord> {
  return (await simulate(world, [attack])).actors[0];
}

function inBox(x: readonly number[]): boolean {
  return x.every((v, j) => v >= world.box.lo[j] - 1e-9 && v <= world.box.hi[j] + 1e-9);
}

/** Median gap between consecutive calls, ms (pauses between rounds excluded). */
function medianGap(r: ActorRecord, under = 10 * SECOND): number {
  const ts = r.exchanges.map((e) => e.ts);
  return median(ts.slice(1).map((t, i) => t - ts[i]).filter((g) => g < under));
}

/** Agreement of the attack's surrogate with the victim on `x`, and the chance floor there. */
function score(attack: Attack, r: ActorRecord, x: number[][], victim: number[][]) {
  const model = surrogateFromExchanges(r.exchanges, attack, { world, surrogate: SURROGATE }, 5);
  const predicted = predictProbs(model, x);
  model.dispose();
  const counts = new Array<number>(world.classes.length).fill(0);
  for (const p of victim) counts[argmax(p)]++;
  return { agreement: topOneAgreement(predicted, victim), chance: Math.max(...counts) / victim.length, classes: new Set(predicted.map(argmax)).size };
}

/** The same seed gives the same calls at the same times. */
async function deterministic(make: () => Attack, first: ActorRecord): Promise<void> {
  const again = await runAttack(make());
  expect(again.exchanges.map((e) => [e.key, e.ts, e.x])).toEqual(first.exchanges.map((e) => [e.key, e.ts, e.x]));
}

describe('Tramèr uniform random queries at 45/min', () => {
  it('sends its budget uniformly over the box at about 45 a minute', async () => {
    const make = () => new TramerEquationSolving(setup('tramer-45'), 'tramer-45', 'Tramèr 45/min', 45);
    const r = await runAttack(make());
    expect(r.calls).toBe(BUDGET);
    expect(r.exchanges.every((e) => inBox(e.x))).toBe(true);
    expect(medianGap(r)).toBeGreaterThan(0.85 * (MINUTE / 45));
    expect(medianGap(r)).toBeLessThan(1.15 * (MINUTE / 45));
    await deterministic(make, r);
  });
});

describe('baseline poisoner', () => {
  const make = (seed = 7) => new BaselinePoisoner(setup('poison', BUDGET, seed), 12, 6 * HOUR);

  it('many short-lived keys on many networks send uniform random queries within the window', async () => {
    const attack = make();
    const r = await runAttack(attack);
    expect(r.calls).toBe(attack.calls);
    expect(attack.keys).toHaveLength(12);
    expect(new Set(attack.keys.map((k) => k.clientIp.split('.').slice(0, 2).join('.'))).size).toBeGreaterThanOrEqual(10);
    expect(new Set(attack.keys.map((k) => k.tenant)).size).toBe(12);
    const byKey = new Map<string, number[]>();
    for (const e of r.exchanges) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e.ts]);
    expect(byKey.size).toBe(12);
    for (const ts of byKey.values()) {
      expect(ts.length).toBeGreaterThanOrEqual(20);
      expect(ts.length).toBeLessThanOrEqual(60);
      // Short-lived: 60 calls at ≥ 10/min, jittered, last under 8 minutes.
      expect(ts[ts.length - 1] - ts[0]).toBeLessThan(8 * MINUTE);
      // 10–30 calls a minute per key.
      const gap = median(ts.slice(1).map((t, i) => t - ts[i]));
      expect(gap).toBeGreaterThan(0.7 * (MINUTE / 30));
      expect(gap).toBeLessThan(1.3 * (MINUTE / 10));
    }
    const start = SIM_EPOCH + 10 * HOUR;
    expect(Math.min(...r.exchanges.map((e) => e.ts))).toBeGreaterThanOrEqual(start);
    expect(Math.max(...r.exchanges.map((e) => e.ts))).toBeLessThan(start + 6 * HOUR + 10 * MINUTE);
    expect(r.exchanges.every((e) => inBox(e.x))).toBe(true);
    // Uniform over the box: each feature's mean near the box centre.
    for (let j = 0; j < world.box.lo.length; j++) {
      const mean = r.exchanges.reduce((s, e) => s + e.x[j], 0) / r.exchanges.length;
      expect(Math.abs(mean - (world.box.lo[j] + world.box.hi[j]) / 2)).toBeLessThan(0.1 * (world.box.hi[j] - world.box.lo[j]));
    }
    await deterministic(() => make(), r);
    expect(make(8).keys.map((k) => k.clientIp)).not.toEqual(attack.keys.map((k) => k.clientIp));
  });
});

describe('half natural, half uniform', () => {
  it('alternates natural records and uniform points, every call counted, at about 40 a minute', async () => {
    const make = () => new HalfNaturalHalfUniform(setup('half'));
    const attack = make();
    const r = await runAttack(attack);
    expect(r.calls).toBe(BUDGET);
    expect(r.exchanges.every((e) => inBox(e.x))).toBe(true);
    expect(medianGap(r)).toBeGreaterThan(0.85 * (MINUTE / 40));
    expect(medianGap(r)).toBeLessThan(1.15 * (MINUTE / 40));
    // One parity sits on the attacker's natural records, the other does not.
    const seedX = world.attackerSeed.map((s) => world.standardizer.apply(s.raw));
    const near = (parity: number) => median(r.exchanges.filter((_, i) => i % 2 === parity).map((e) => dist2(seedX[nearest(seedX, e.x)], e.x)));
    const [even, odd] = [near(0), near(1)];
    expect(Math.max(even, odd)).toBeGreaterThan(5 * Math.min(even, odd));
    const { agreement, chance } = score(attack, r, world.testX, world.testVictimProbs);
    expect(agreement).toBeGreaterThan(chance + 0.05);
    await deterministic(make, r);
  });
});

describe('Papernot augmentation in raw space', () => {
  it('50 natural seeds, then each augmented point moves every raw feature by 0 or ±λ·range on the feature grid', async () => {
    const make = () => new PapernotRawSpace(setup('papernot-raw'));
    const attack = make();
    const r = await runAttack(attack);
    expect(r.calls).toBe(BUDGET);
    expect(r.exchanges.every((e) => inBox(e.x))).toBe(true);
    const space = new RawSpace(world);
    const raws = r.exchanges.map((e) => world.standardizer.invert(e.x));
    // Every query is a value a client could write: on each feature's resolution grid.
    for (const raw of raws) raw.forEach((v, j) => expect(Math.abs(v - space.round([...raw])[j])).toBeLessThan(1e-6));
    const seeds = new Set(world.attackerSeed.map((s) => JSON.stringify(space.snap(s.raw))));
    for (const raw of raws.slice(0, 50)) expect(seeds.has(JSON.stringify(space.round(raw)))).toBe(true);
    const step = space.range.map((w, j) => Math.max(space.resolution[j], 0.1 * w));
    let moved = 0;
    for (let i = 0; i < 50; i++) {
      raws[50 + i].forEach((v, j) => {
        const d = Math.abs(v - raws[i][j]);
        const atEdge = Math.abs(v - space.lo[j]) < 1e-6 || Math.abs(v - space.hi[j]) < 1e-6;
        expect(Math.abs(d - step[j]) <= space.resolution[j] / 2 + 1e-6 || d < 1e-6 || atEdge).toBe(true);
        if (d > 1e-6) moved++;
      });
    }
    expect(moved).toBeGreaterThan(0.5 * 50 * space.dims);
    expect(medianGap(r)).toBeGreaterThan(0.85 * (MINUTE / 90));
    expect(medianGap(r)).toBeLessThan(1.15 * (MINUTE / 90));
    expect(attack.graceCalls).toBe(50);
    const { agreement, chance, classes } = score(attack, r, world.testX, world.testVictimProbs);
    expect(agreement).toBeGreaterThan(chance + 0.05);
    expect(classes).toBeGreaterThanOrEqual(2);
    await deterministic(make, r);
  });
});

describe('uncertainty sampling', () => {
  it('ranks by margin or entropy', () => {
    expect(uncertainty([0.5, 0.45, 0.05], 'margin')).toBeGreaterThan(uncertainty([0.8, 0.1, 0.1], 'margin'));
    expect(uncertainty([1 / 3, 1 / 3, 1 / 3], 'entropy')).toBeGreaterThan(uncertainty([0.6, 0.3, 0.1], 'entropy'));
  });

  it('queries where its substitute is unsure: later rounds land nearer the victim boundary than the random start', async () => {
    const make = () => new UncertaintySampling(setup('uncertainty'), 'uniform', 'margin', 'uncertainty', 'uncertainty sampling', 60, 54);
    const attack = make();
    const r = await runAttack(attack);
    expect(r.calls).toBe(BUDGET);
    expect(r.exchanges.every((e) => inBox(e.x))).toBe(true);
    const margin = (a: Answer) => -uncertainty(a.probs, 'margin');
    const initial = Math.round(BUDGET / 10);
    const first = median(r.exchanges.slice(0, initial).map((e) => margin(e.unprotected)));
    const later = median(r.exchanges.slice(initial).map((e) => margin(e.unprotected)));
    expect(later).toBeLessThan(0.7 * first);
    expect(medianGap(r)).toBeGreaterThan(0.85 * SECOND);
    expect(medianGap(r)).toBeLessThan(1.15 * SECOND);
    const { agreement, chance, classes } = score(attack, r, uniformX, uniformVictim);
    expect(agreement).toBeGreaterThan(chance);
    expect(classes).toBeGreaterThanOrEqual(2);
    await deterministic(make, r);
  });

  it('the foreign pool draws from the other data set', async () => {
    const r = await runAttack(new UncertaintySampling(setup('uncertainty-foreign', 120), 'foreign', 'entropy'));
    expect(r.calls).toBe(120);
    const thiefX = world.thief.map((t) => world.standardizer.apply(t.raw));
    const trainX = world.train.map((t) => world.standardizer.apply(t.raw));
    const closerToThief = r.exchanges.filter((e) => dist2(thiefX[nearest(thiefX, e.x)], e.x) < dist2(trainX[nearest(trainX, e.x)], e.x)).length;
    expect(closerToThief / r.calls).toBeGreaterThan(0.6);
  });
});

describe('key rotator', () => {
  const campaign = (s: AttackSetup) => new TramerEquationSolving(s, 'inner', 'inner', 60);

  it('sends the campaign from one key after another, each within its quota', async () => {
    const make = () => new KeyRotator(setup('rotator'), campaign, [40, 80]);
    const attack = make();
    expect(attack.quotas.every((q) => q >= 40 && q <= 80)).toBe(true);
    expect(attack.quotas.slice(0, -1).reduce((a, b) => a + b, 0)).toBeLessThan(BUDGET);
    const r = await runAttack(attack);
    expect(r.calls).toBe(BUDGET);
    const order = r.exchanges.map((e) => attack.keys.findIndex((k) => k.apiKey === e.key));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    const counts = attack.keys.map((k) => r.exchanges.filter((e) => e.key === k.apiKey).length);
    expect(counts.slice(0, -1)).toEqual(attack.quotas.slice(0, -1));
    expect(counts.every((c) => c > 0)).toBe(true);
    expect(new Set(attack.keys.map((k) => k.tenant)).size).toBe(attack.keys.length);
    expect(new Set(attack.keys.map((k) => k.clientIp.split('.').slice(0, 3).join('.'))).size).toBe(attack.keys.length);
    expect(r.exchanges.every((e) => inBox(e.x))).toBe(true);
    expect(attack.uses).toBe('probabilities');
    // The campaign's surrogate learns from the answers of every key.
    const { agreement, chance, classes } = score(attack, r, uniformX, uniformVictim);
    expect(agreement).toBeGreaterThan(chance);
    expect(classes).toBeGreaterThanOrEqual(2);
    await deterministic(make, r);
  });

  it('switches to a fresh key at once after a refusal and resends the refused calls from it', async () => {
    const attack = new KeyRotator(setup('rotator-refused'), campaign, [40, 80]);
    const sent: { key: string; ts: number; status: number }[] = [];
    const perKey = new Map<string, number>();
    // An API that throttles each key's 31st and 32nd calls (the last key then waits it out in the campaign's own client).
    const api: QueryApi = {
      async query(key: KeyIdentity, xs, times) {
        return xs.map((x, i) => {
          const n = (perKey.get(key.apiKey) ?? 0) + 1;
          perKey.set(key.apiKey, n);
          const status = n === 31 || n === 32 ? 429 : 200;
          sent.push({ key: key.apiKey, ts: times[i], status });
          return { probs: status === 200 ? [1, 0, 0, 0, 0] : [], label: status === 200 ? 0 : -1, status, retryAfterS: 60 };
        });
      },
    };
    await attack.run(api);
    expect(sent.filter((s) => s.status === 200)).toHaveLength(BUDGET);
    const keysUsed = [...new Set(sent.map((s) => s.key))];
    expect(keysUsed).toEqual(attack.keys.map((k) => k.apiKey));
    expect(sent.filter((s) => s.status === 429).length).toBeGreaterThanOrEqual(2 * (attack.keys.length - 1));
    for (let i = 1; i < sent.length; i++) expect(sent[i].ts).toBeGreaterThanOrEqual(sent[i - 1].ts);
    // Keys take turns (none comes back), each but the last leaves at its first refusal, and the next starts at least 30 s later.
    const first = (k: string) => sent.findIndex((s) => s.key === k);
    const last = (k: string) => sent.length - 1 - [...sent].reverse().findIndex((s) => s.key === k);
    for (let k = 0; k + 1 < keysUsed.length; k++) {
      expect(last(keysUsed[k])).toBe(first(keysUsed[k + 1]) - 1);
      expect(sent.filter((s) => s.key === keysUsed[k]).length).toBeLessThanOrEqual(attack.quotas[k]);
      expect(sent[first(keysUsed[k + 1])].ts - sent[last(keysUsed[k])].ts).toBeGreaterThanOrEqual(30 * SECOND);
    }
  });
});

describe('office-hours thief', () => {
  const end = SIM_EPOCH + 3 * DAY;
  const make = () => new OfficeHoursThief(setup('office'), end);

  it('paces like a person at work and mixes stolen records with jittered copies on the feature grid', async () => {
    const attack = make();
    const r = await runAttack(attack);
    expect(r.calls).toBe(BUDGET);
    expect(r.exchanges.every((e) => inBox(e.x))).toBe(true);
    for (const e of r.exchanges) {
      const { hour, weekday } = clock(e.ts);
      expect(weekday).toBe(true);
      expect(hour).toBeGreaterThanOrEqual(8);
      expect(hour).toBeLessThan(18.5); // sessions start before closing time and may run on a little
    }
    const think = medianGap(r, 10 * MINUTE);
    expect(think).toBeGreaterThan(6 * SECOND);
    expect(think).toBeLessThan(25 * SECOND);
    const space = new RawSpace(world);
    const stolen = new Set(world.attackerSeed.map((s) => JSON.stringify(space.snap(s.raw))));
    const raws = r.exchanges.map((e) => space.round(world.standardizer.invert(e.x)));
    const exact = raws.filter((raw) => stolen.has(JSON.stringify(raw))).length;
    expect(exact / r.calls).toBeGreaterThan(0.3);
    expect(exact / r.calls).toBeLessThan(0.7);
    // Copies stay close to a stolen record: nearer than the stolen records are to one another.
    const seedX = world.attackerSeed.map((s) => world.standardizer.apply(s.raw));
    const spacing = median(seedX.map((x, i) => Math.min(...seedX.filter((_, k) => k !== i).map((y) => dist2(x, y)))));
    const copies = r.exchanges.filter((_, i) => !stolen.has(JSON.stringify(raws[i])));
    expect(median(copies.map((e) => dist2(seedX[nearest(seedX, e.x)], e.x)))).toBeLessThan(spacing);
    const { agreement, chance } = score(attack, r, world.testX, world.testVictimProbs);
    expect(agreement).toBeGreaterThan(chance + 0.05);
    await deterministic(make, r);
  });

  it('stops at the end of the span', async () => {
    const short = new OfficeHoursThief({ ...setup('office-short', 5000), start: SIM_EPOCH + 9 * HOUR }, SIM_EPOCH + 12 * HOUR);
    const r = await runAttack(short);
    expect(r.calls).toBeGreaterThan(20);
    expect(r.calls).toBeLessThan(5000);
    expect(Math.max(...r.exchanges.map((e) => e.ts))).toBeLessThan(SIM_EPOCH + 12 * HOUR);
  });
});
