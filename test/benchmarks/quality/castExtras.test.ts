import { beforeAll, describe, expect, it } from 'vitest';
import type { AttackSetup } from '../../../benchmarks/quality/attacks/Attack.ts';
import { extraAttacks, extraBenign } from '../../../benchmarks/quality/castExtras.ts';
import { Rng } from '../../../benchmarks/quality/Rng.ts';
import { TINY } from '../../../benchmarks/quality/Scenario.ts';
import type { VictimWorld } from '../../../benchmarks/quality/Victim.ts';
import { DAY, HOUR, SIM_EPOCH } from '../../../benchmarks/quality/world/Schedule.ts';
import { RawSpace } from '../../../benchmarks/quality/attacks/RawSpace.ts';
import { buildWorld, SOFTMAX } from '../../../benchmarks/quality/worlds/WorldSpec.ts';
import { simulate, smallVictimWorld } from './helpers.ts';

let world: VictimWorld;
beforeAll(async () => {
  world = await smallVictimWorld();
});

const START = SIM_EPOCH;
const END = SIM_EPOCH + DAY;

function setupFor(rng: Rng, w = () => world) {
  return (name: string, budget = TINY.budget): AttackSetup => {
    const r = rng.fork(`attack-${name}`);
    return { world: w(), budget, start: Math.round(START + r.uniform(12, 18) * HOUR), rng: r, surrogate: TINY.surrogate };
  };
}

describe('castExtras', () => {
  it('adds every new honest population, each key its own, topic groups spread over tenants and networks', async () => {
    const size = { ...TINY, extraMembers: 2 };
    const benign = extraBenign(world, size, new Rng(1).fork('extra-benign'), START, END);
    const populations = new Map<string, number>();
    for (const a of benign) populations.set(a.population, (populations.get(a.population) ?? 0) + 1);
    expect(populations).toEqual(
      new Map([
        ['minority-class analysts', 2],
        ['stratified validation teams', 1],
        ['topic users', 3],
        ['shifted-segment users', 2],
      ]),
    );
    const keys = benign.flatMap((a) => a.keys);
    expect(new Set(keys.map((k) => k.apiKey)).size).toBe(keys.length);
    const topic = benign.filter((a) => a.population === 'topic users').map((a) => a.keys[0]);
    expect(new Set(topic.map((k) => k.tenant)).size).toBe(topic.length);
    expect(new Set(topic.map((k) => k.clientIp.split('.').slice(0, 3).join('.'))).size).toBe(topic.length);
    const record = await simulate(world, benign);
    for (const r of record.actors) expect(r.calls).toBeGreaterThan(0);
    // The same seed, the same cast.
    const again = extraBenign(world, size, new Rng(1).fork('extra-benign'), START, END);
    expect(again.map((a) => a.keys[0])).toEqual(keys);
  });

  it('adds the new campaigns; the poisoner acts before the campaign that follows it', async () => {
    const rng = new Rng(1).fork('extra-attacks');
    const attacks = extraAttacks(world, TINY, rng, setupFor(new Rng(1)));
    expect(new Set(attacks.map((a) => a.id)).size).toBe(attacks.length);
    expect(new Set(attacks.map((a) => a.population)).size).toBe(attacks.length);
    const keys = attacks.flatMap((a) => a.keys.map((k) => k.apiKey));
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.every((k) => k.startsWith('atk-'))).toBe(true);
    const record = await simulate(world, attacks);
    for (const r of record.actors) expect(r.calls).toBeGreaterThan(0);
    const by = (id: string) => record.actors.find((r) => r.actor.id === id)!;
    expect(by('poisoner').actor.keys.length).toBeGreaterThanOrEqual(8);
    const lastPoison = Math.max(...by('poisoner').exchanges.map((e) => e.ts));
    const firstCampaign = Math.min(...by('poisoned-tramer').exchanges.map((e) => e.ts));
    expect(lastPoison).toBeLessThan(firstCampaign);
    expect(by('tramer-45').calls).toBe(TINY.budget);
    for (const r of record.actors) for (const e of r.exchanges) e.x.forEach((v, j) => expect(v >= world.box.lo[j] - 1e-9 && v <= world.box.hi[j] + 1e-9).toBe(true));
  });

  it('works in a wide synthetic world with many classes and a skewed prior: every actor calls, inside the box, raw steps on the grid', async () => {
    const wide = buildWorld(
      { name: 'wide', data: { kind: 'synthetic', prior: [0.6, 0.2, 0.1, 0.05, 0.03, 0.02], features: 40, rows: 800, foreignRows: 200 }, victim: SOFTMAX, seed: 3 },
      0.1,
    ).world;
    expect(wide.features).toHaveLength(40);
    const benign = extraBenign(wide, TINY, new Rng(2).fork('extra-benign'), START, END);
    const attacks = extraAttacks(wide, TINY, new Rng(2).fork('extra-attacks'), setupFor(new Rng(2), () => wide));
    const record = await simulate(wide, [...benign, ...attacks]);
    for (const r of record.actors) expect(r.calls, r.actor.id).toBeGreaterThan(0);
    const inBox = (x: readonly number[]) => x.length === 40 && x.every((v, j) => v >= wide.box.lo[j] - 1e-9 && v <= wide.box.hi[j] + 1e-9);
    for (const r of record.actors) for (const e of r.exchanges) expect(inBox(e.x), r.actor.id).toBe(true);
    const space = new RawSpace(wide);
    for (const id of ['papernot-raw', 'office-thief']) {
      for (const e of record.actors.find((r) => r.actor.id === id)!.exchanges) {
        const raw = wide.standardizer.invert(e.x);
        raw.forEach((v, j) => expect(Math.abs(v - space.round(raw)[j])).toBeLessThan(1e-6 + 1e-9 * Math.abs(v)));
      }
    }
  });
});
