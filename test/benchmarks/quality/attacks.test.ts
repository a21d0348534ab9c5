import { beforeAll, describe, expect, it } from 'vitest';
import { ActiveThief } from '../../../benchmarks/quality/attacks/ActiveThief.ts';
import { type Attack, type AttackSetup, uniformInBox } from '../../../benchmarks/quality/attacks/Attack.ts';
import { surrogateFromExchanges } from '../../../benchmarks/quality/attacks/Surrogate.ts';
import { InterleavedNatural } from '../../../benchmarks/quality/attacks/InterleavedNatural.ts';
import { KnockoffNets } from '../../../benchmarks/quality/attacks/KnockoffNets.ts';
import { LatticeSweep, latticeLevels, latticePoints } from '../../../benchmarks/quality/attacks/LatticeSweep.ts';
import { LowdMeekLineSearch } from '../../../benchmarks/quality/attacks/LowdMeekLineSearch.ts';
import { PapernotJacobian } from '../../../benchmarks/quality/attacks/PapernotJacobian.ts';
import { SlowAndLow } from '../../../benchmarks/quality/attacks/SlowAndLow.ts';
import { SybilSpread } from '../../../benchmarks/quality/attacks/SybilSpread.ts';
import { TramerEquationSolving } from '../../../benchmarks/quality/attacks/TramerEquationSolving.ts';
import { argmax, predictProbs, topOneAgreement } from '../../../benchmarks/quality/Classifier.ts';
import { Rng } from '../../../benchmarks/quality/Rng.ts';
import type { VictimWorld } from '../../../benchmarks/quality/Victim.ts';
import { DAY, HOUR, SIM_EPOCH } from '../../../benchmarks/quality/world/Schedule.ts';
import type { ActorRecord } from '../../../benchmarks/quality/world/World.ts';
import { simulate, smallVictimWorld } from './helpers.ts';

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

function setup(name: string, budget = BUDGET): AttackSetup {
  return { world, budget, start: SIM_EPOCH + 10 * HOUR, rng: new Rng(7).fork(name), surrogate: SURROGATE };
}

async function runAttack(attack: Attack): Promise<ActorRecord> {
  const record = await simulate(world, [attack]);
  return record.actors[0];
}

/**
 * Agreement of the attack's surrogate with the victim on `x`, the chance
 * floor (always the victim's most frequent class there), and how many
 * classes the surrogate predicts (a constant answer would match the floor).
 */
function score(attack: Attack, r: ActorRecord, x: number[][], victim: number[][]) {
  const model = surrogateFromExchanges(r.exchanges, attack, { world, surrogate: SURROGATE }, 5);
  const predicted = predictProbs(model, x);
  model.dispose();
  const counts = new Array<number>(world.classes.length).fill(0);
  for (const p of victim) counts[argmax(p)]++;
  return { agreement: topOneAgreement(predicted, victim), chance: Math.max(...counts) / victim.length, classes: new Set(predicted.map(argmax)).size };
}

describe('attacks train surrogates that beat chance on a small budget', () => {
  const onUniform = (make: () => Attack) => async () => {
    const attack = make();
    const r = await runAttack(attack);
    expect(r.calls).toBeGreaterThan(0);
    // Uniform queries mostly land on rainy inputs (precipitation is skewed), so the floor there is high.
    const { agreement, chance, classes } = score(attack, r, uniformX, uniformVictim);
    expect(agreement).toBeGreaterThan(chance);
    expect(classes).toBeGreaterThanOrEqual(2);
  };
  const onNatural = (make: () => Attack) => async () => {
    const attack = make();
    const r = await runAttack(attack);
    const { agreement, chance, classes } = score(attack, r, world.testX, world.testVictimProbs);
    expect(agreement).toBeGreaterThan(chance + 0.05);
    expect(classes).toBeGreaterThanOrEqual(2);
  };

  it('Tramèr equation-solving (uniform queries, probabilities)', onUniform(() => new TramerEquationSolving(setup('tramer'))));
  it('lattice sweep', onUniform(() => new LatticeSweep(setup('lattice'))));
  it('Lowd–Meek line search (labels only)', onUniform(() => new LowdMeekLineSearch(setup('lowd'))));
  it('Sybil spread', onUniform(() => new SybilSpread(setup('sybil'), 4)));
  it('Papernot Jacobian augmentation (labels only)', onNatural(() => new PapernotJacobian(setup('papernot'))));
  it('Knockoff Nets from the other city', onNatural(() => new KnockoffNets(setup('knockoff'))));
  it('ActiveThief uncertainty sampling', onNatural(() => new ActiveThief(setup('activethief'))));
  it('interleaved with natural queries', onNatural(() => new InterleavedNatural(setup('interleaved'))));
});

describe('attack mechanics', () => {
  it('lattice: the largest full-factorial grid within the budget, walked in odometer order', () => {
    for (const budget of [100, 300, 2000]) {
      const levels = latticeLevels(5, budget);
      const size = levels.reduce((a, b) => a * b, 1);
      expect(size).toBeLessThanOrEqual(budget);
      for (let j = 0; j < 5; j++) expect((size / levels[j]) * (levels[j] + 1)).toBeGreaterThan(budget);
    }
    const box = { lo: [0, 0], hi: [1, 1] };
    expect(latticePoints(box, [2, 3])).toEqual([
      [0.25, 1 / 6],
      [0.25, 0.5],
      [0.25, 5 / 6],
      [0.75, 1 / 6],
      [0.75, 0.5],
      [0.75, 5 / 6],
    ]);
  });

  it('Lowd–Meek brackets the boundary: many pairs of consecutive calls closer than 2ε with different labels', async () => {
    const r = await runAttack(new LowdMeekLineSearch(setup('lowd-bracket')));
    expect(r.calls).toBe(BUDGET);
    let brackets = 0;
    const ex = r.exchanges;
    for (let i = 1; i < ex.length; i++) {
      const d = Math.sqrt(ex[i].x.reduce((s, v, j) => s + (v - ex[i - 1].x[j]) ** 2, 0));
      if (d < 0.04 && ex[i].answer.label !== ex[i - 1].answer.label) brackets++;
    }
    expect(brackets).toBeGreaterThanOrEqual(5);
  });

  it('Papernot: every augmented point is a parent moved by ±λ·range per feature (or clipped)', async () => {
    const r = await runAttack(new PapernotJacobian(setup('papernot-steps')));
    const xs = r.exchanges.map((e) => e.x);
    const seedSize = Math.min(world.attackerSeed.length, Math.max(10, Math.round(BUDGET / 8)));
    const step = world.box.hi.map((hi, j) => 0.1 * (hi - world.box.lo[j]));
    const fresh = xs.slice(seedSize, 2 * seedSize);
    for (let i = 0; i < fresh.length; i++) {
      fresh[i].forEach((v, j) => {
        const moved = Math.abs(Math.abs(v - xs[i][j]) - step[j]) < 1e-6;
        const clipped = v === world.box.lo[j] || v === world.box.hi[j] || v === xs[i][j];
        expect(moved || clipped).toBe(true);
      });
    }
    expect(r.calls).toBe(BUDGET);
  });

  it('Knockoff Nets draws only from the other data set and spreads over the victim classes', async () => {
    const r = await runAttack(new KnockoffNets(setup('knockoff-classes')));
    expect(r.calls).toBe(BUDGET);
    // The budget is below the New York table's size, so every call is a real New York day.
    const newYork = new Set(world.thief.map((rec) => JSON.stringify(world.standardizer.apply(rec.raw))));
    for (const e of r.exchanges) expect(newYork.has(JSON.stringify(e.x))).toBe(true);
    expect(new Set(r.exchanges.map((e) => e.answer.label)).size).toBeGreaterThanOrEqual(3);
  });

  it('slow-and-low stays far under the limits and spans the day', async () => {
    const attack = new SlowAndLow({ ...setup('slow', 400), start: SIM_EPOCH }, DAY, 20);
    const r = await runAttack(attack);
    const times = r.exchanges.map((e) => e.ts);
    expect(r.calls).toBe(attack.calls);
    expect(times[times.length - 1] - times[0]).toBeGreaterThan(18 * HOUR);
    let maxHour = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[j] <= times[i] - HOUR) j++;
      maxHour = Math.max(maxHour, i - j + 1);
    }
    expect(maxHour).toBeLessThan(60);
  });

  it('Sybil: every key in one /24, the budget split evenly, calls interleaved in time', async () => {
    const attack = new SybilSpread(setup('sybil-keys'), 6);
    const r = await runAttack(attack);
    expect(new Set(attack.keys.map((k) => k.clientIp.split('.').slice(0, 3).join('.'))).size).toBe(1);
    const perKey = new Map<string, number>();
    for (const e of r.exchanges) perKey.set(e.key, (perKey.get(e.key) ?? 0) + 1);
    expect([...perKey.values()]).toEqual(new Array(6).fill(BUDGET / 6));
    const ts = r.exchanges.map((e) => e.ts);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
  });
});
