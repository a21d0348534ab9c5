import { beforeAll, describe, expect, it } from 'vitest';
import { NaturalSampler } from '../../../benchmarks/quality/NaturalSampler.ts';
import { MinorityClassAnalyst, rarestClass } from '../../../benchmarks/quality/populations/MinorityClassAnalyst.ts';
import { ShiftedSegmentUser, shiftedSubset } from '../../../benchmarks/quality/populations/ShiftedSegmentUser.ts';
import { StratifiedValidationTeam, stratifiedSet } from '../../../benchmarks/quality/populations/StratifiedValidationTeam.ts';
import { TopicUser, topicRegion } from '../../../benchmarks/quality/populations/TopicUser.ts';
import { Rng } from '../../../benchmarks/quality/Rng.ts';
import type { VictimWorld } from '../../../benchmarks/quality/Victim.ts';
import { DAY, SIM_EPOCH } from '../../../benchmarks/quality/world/Schedule.ts';
import type { KeyIdentity } from '../../../benchmarks/quality/world/types.ts';
import { simulate, smallVictimWorld } from './helpers.ts';
import { clock, dist2, median, nearest, recorded, type SentCall } from './recorded.ts';

let world: VictimWorld;
let trainX: number[][];
beforeAll(async () => {
  world = await smallVictimWorld();
  trainX = world.train.map((r) => world.standardizer.apply(r.raw));
});

const key = (id: string, net = 1): KeyIdentity => ({ apiKey: id, tenant: `org-${id}`, clientIp: `10.7.${net}.10` });
const START = SIM_EPOCH;
const END = SIM_EPOCH + 2 * DAY;

async function callsOf(make: () => import('../../../benchmarks/quality/world/types.ts').Actor): Promise<SentCall[]> {
  const r = recorded(make());
  await simulate(world, [r.actor]);
  return r.calls;
}

/** Every call on a weekday within [from, to) hours UTC. */
function inOfficeHours(calls: readonly SentCall[], from: number, to: number): boolean {
  return calls.every((c) => {
    const { hour, weekday } = clock(c.ts);
    return weekday && hour >= from && hour < to;
  });
}

/** Calls sit near the natural data: each within the data's own nearest-neighbour reach of a training record. */
function nearNatural(calls: readonly SentCall[]): number {
  return calls.filter((c) => dist2(trainX[nearest(trainX, c.x)], c.x) < 1).length / calls.length;
}

/** A natural sampler that notes the label of every record it draws. */
class NotingSampler extends NaturalSampler {
  readonly drawn: number[] = [];
  override record(rng: Rng, accept?: Parameters<NaturalSampler['record']>[1]) {
    const r = super.record(rng, accept);
    this.drawn.push(r.label);
    return r;
  }
}

describe('minority-class analyst', () => {
  const make = (seed = 1, natural = new NaturalSampler(world.train, world)) =>
    new MinorityClassAnalyst('fraud', key('fraud'), natural, world.standardizer, new Rng(seed).fork('fraud'), START, END);

  it('finds the rarest class', () => {
    expect(rarestClass([{ label: 0 }, { label: 2 }, { label: 0 }, { label: 1 }, { label: 1 }, { label: 2 }, { label: 0 }])).toBe(1);
    const counts = new Map<number, number>();
    for (const r of world.train) counts.set(r.label, (counts.get(r.label) ?? 0) + 1);
    expect(counts.get(rarestClass(world.train))).toBe(Math.min(...counts.values()));
  });

  it('works in office sessions and mostly asks about natural records of the rarest class', async () => {
    const natural = new NotingSampler(world.train, world);
    const calls = await callsOf(() => make(1, natural));
    expect(calls.length).toBeGreaterThan(10);
    expect(inOfficeHours(calls, 7, 19)).toBe(true);
    const rare = rarestClass(world.train);
    const share = natural.drawn.filter((l) => l === rare).length / natural.drawn.length;
    const prior = world.train.filter((r) => r.label === rare).length / world.train.length;
    expect(share).toBeGreaterThan(0.7);
    expect(prior).toBeLessThan(0.1);
    // Re-checks: some inputs come back exactly.
    expect(new Set(calls.map((c) => JSON.stringify(c.x))).size).toBeLessThan(calls.length);
    expect(nearNatural(calls)).toBeGreaterThan(0.9);
    // Deterministic by seed; another seed, another day.
    expect(await callsOf(() => make())).toEqual(calls);
    expect(await callsOf(() => make(2))).not.toEqual(calls);
  });
});

describe('stratified validation team', () => {
  const make = () => new StratifiedValidationTeam('val', key('val'), new NaturalSampler(world.train, world), world.standardizer, new Rng(1).fork('val'), START, END);

  it('a stratified set has equal counts per class, no record twice', () => {
    const set = stratifiedSet(world.train, 40, new Rng(3));
    const counts = new Map<number, number>();
    for (const r of set) counts.set(r.label, (counts.get(r.label) ?? 0) + 1);
    const present = new Set(world.train.map((r) => r.label));
    expect(counts.size).toBe(present.size);
    expect(new Set(counts.values()).size).toBe(1);
    expect(new Set(set).size).toBe(set.length);
    const few = [...[0, 0, 0, 0, 1, 1, 2, 2, 2].entries()].map(([i, label]) => ({ label, raw: [i] }));
    expect(stratifiedSet(few, 40, new Rng(3))).toHaveLength(6);
  });

  it('sends the same stratified set twice a day as scripted batches, morning and afternoon', async () => {
    const calls = await callsOf(make);
    const runs: SentCall[][] = [];
    for (const c of calls) {
      const last = runs[runs.length - 1];
      if (last && c.ts - last[last.length - 1].ts < 3_600_000) last.push(c);
      else runs.push([c]);
    }
    expect(runs).toHaveLength(4);
    for (const run of runs) expect(run.map((c) => c.x)).toEqual(runs[0].map((c) => c.x));
    const labels = runs[0].map((c) => world.train[nearest(trainX, c.x)].label);
    const counts = new Map<number, number>();
    for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
    expect(new Set(counts.values()).size).toBe(1);
    expect(counts.size).toBe(new Set(world.train.map((r) => r.label)).size);
    const hours = runs.map((run) => clock(run[0].ts).hour);
    expect(hours[0]).toBeGreaterThanOrEqual(8);
    expect(hours[0]).toBeLessThan(10.5);
    expect(hours[1]).toBeGreaterThanOrEqual(14);
    expect(hours[1]).toBeLessThan(16.5);
    // 60–90 calls a minute, each gap jittered ±30%.
    const gaps = runs[0].slice(1).map((c, i) => c.ts - runs[0][i].ts);
    expect(median(gaps)).toBeGreaterThan(600);
    expect(median(gaps)).toBeLessThan(1100);
    expect(await callsOf(make)).toEqual(calls);
  });
});

describe('topic users', () => {
  it('a topic region is one neighbourhood: the records nearest a centre', () => {
    const region = topicRegion(world.train, world.standardizer, new Rng(5), 40);
    expect(region.size).toBe(40);
    const xs = [...region].map((r) => world.standardizer.apply(r.raw));
    const spread = (rows: number[][]) => rows.reduce((s, x) => s + rows.reduce((t, y) => t + Math.sqrt(dist2(x, y)), 0), 0) / rows.length ** 2;
    expect(spread(xs)).toBeLessThan(0.5 * spread(trainX.slice(0, 200)));
  });

  it('users in different tenants and networks all query the one shared region', async () => {
    const region = topicRegion(world.train, world.standardizer, new Rng(5), 40);
    const natural = new NaturalSampler(world.train, world);
    const users = [0, 1, 2].map((i) => recorded(new TopicUser(`topic-${i}`, key(`topic-${i}`, 20 + i), natural, world.standardizer, new Rng(1).fork(`topic-${i}`), START, END, region)));
    expect(new Set(users.map((u) => u.actor.keys[0].tenant)).size).toBe(3);
    expect(new Set(users.map((u) => u.actor.keys[0].clientIp)).size).toBe(3);
    await simulate(world, users.map((u) => u.actor));
    const regionX = [...region].map((r) => world.standardizer.apply(r.raw));
    const centre = regionX[0].map((_, j) => regionX.reduce((s, x) => s + x[j], 0) / regionX.length);
    const reach = Math.max(...regionX.map((x) => dist2(x, centre)));
    for (const u of users) {
      expect(u.calls.length).toBeGreaterThan(5);
      expect(inOfficeHours(u.calls, 7, 19)).toBe(true);
      // The smoothed bootstrap moves records a little; nearly every query stays in the region's ball.
      const inside = u.calls.filter((c) => dist2(c.x, centre) <= 2 * reach).length / u.calls.length;
      expect(inside).toBeGreaterThan(0.8);
    }
  });
});

describe('shifted-segment users', () => {
  it('an exponentially tilted subset moves the mean along one direction; no tilt does not', () => {
    const meanNorm = (rows: { raw: number[] }[]) => {
      const xs = rows.map((r) => world.standardizer.apply(r.raw));
      return Math.hypot(...xs[0].map((_, j) => xs.reduce((s, x) => s + x[j], 0) / xs.length));
    };
    const shifted = shiftedSubset(world.train, world.standardizer, new Rng(4), 150, 1.5);
    const plain = shiftedSubset(world.train, world.standardizer, new Rng(4), 150, 0);
    expect(shifted).toHaveLength(150);
    expect(new Set(shifted).size).toBe(150);
    expect(meanNorm(shifted)).toBeGreaterThan(0.5);
    expect(meanNorm(plain)).toBeLessThan(0.35);
  });

  it('uses the model like an interactive user, on its segment records only', async () => {
    const segment = shiftedSubset(world.train, world.standardizer, new Rng(4), 150, 1.5);
    const segX = segment.map((r) => world.standardizer.apply(r.raw));
    const make = () => new ShiftedSegmentUser('seg', key('seg'), new NaturalSampler(segment, world), world.standardizer, new Rng(1).fork('seg'), START, END);
    const calls = await callsOf(make);
    expect(calls.length).toBeGreaterThan(5);
    expect(inOfficeHours(calls, 7, 19)).toBe(true);
    const thinks = calls.slice(1).map((c, i) => c.ts - calls[i].ts).filter((g) => g < 600_000);
    expect(median(thinks)).toBeGreaterThan(5_000);
    expect(median(thinks)).toBeLessThan(60_000);
    // Along the segment's shift, the user's queries sit where the segment is, not where the model's traffic is (0).
    const centre = segX[0].map((_, j) => segX.reduce((s, x) => s + x[j], 0) / segX.length);
    const norm = Math.hypot(...centre);
    const along = calls.map((c) => c.x.reduce((s, v, j) => s + (v * centre[j]) / norm, 0));
    expect(norm).toBeGreaterThan(0.5);
    expect(along.reduce((a, b) => a + b, 0) / along.length).toBeGreaterThan(0.5 * norm);
    expect(await callsOf(make)).toEqual(calls);
  });
});
