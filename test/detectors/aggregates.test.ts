import { beforeAll, describe, expect, it } from 'vitest';
import { aggregates, aggregatesConfigSchema, type AggregatesState } from '../../detectors/aggregates.ts';
import { boundaryProbing } from '../../detectors/boundaryProbing.ts';
import { entropy } from '../../detectors/entropy.ts';
import { outputDrift } from '../../detectors/outputDrift.ts';
import type { DetectorDefinition } from '../../detectors/types.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import type { InferenceEvent } from '../../src/contract.ts';
import { balancedClasses, marginSampler, uniformBox } from './helpers/attacks.ts';
import { testCompute } from './helpers/compute.ts';
import { type DetectorRun, runDetector } from './helpers/runDetector.ts';
import { ATTACK_START, FIRES, HOUR, naturalScenario, QUIET, T0, VOLUME } from './helpers/scenario.ts';
import { ambiguousWorld, background, humanTimes, merge, naturalKey, scriptTimes, whatIfSweep, type World } from './helpers/world.ts';

let compute: Compute;
beforeAll(async () => {
  compute = await testCompute();
});

const config = (overrides: object = {}) => aggregatesConfigSchema.parse(overrides);

type Extra = { tenant?: string; clientIp?: string };

/** `keys` Sybil keys of 40 queries each (below every per-key detector's minimum), started 7 s apart. */
function sybils(world: World, name: string, keys: number, extra: (k: number) => Extra, attack: (key: string, times: number[], x: Extra) => InferenceEvent[]) {
  return Array.from({ length: keys }, (_, k) => attack(`${name}-${k}`, scriptTimes(world, 40, ATTACK_START + k * 7_000, 3_000), extra(k))).flat();
}

const keysOf = (run: DetectorRun, prefix: string) => [...run.maxByKey.keys()].filter((k) => k.startsWith(prefix));

/** Every per-key detector stays below QUIET on these keys: the campaign is invisible key by key. */
function expectInvisiblePerKey(events: InferenceEvent[], prefix: string) {
  for (const def of [boundaryProbing, entropy, outputDrift] as DetectorDefinition[]) {
    const run = runDetector(def.create(def.configSchema.parse({})), events, compute);
    for (const key of keysOf(run, prefix)) expect(run.maxByKey.get(key), `${def.name} ${key}`).toBeLessThan(QUIET);
  }
}

describe('aggregates', () => {
  it('sees boundary probing spread over 12 keys behind one /24, and stays quiet on natural tenants and networks', () => {
    const { world, natural, naturalKeys } = naturalScenario();
    const office = naturalKey(world, 'nat-office-a', 200, humanTimes(world, 200, ATTACK_START, 20_000), { clientIp: '10.9.9.10', tenant: 'tenant-1' });
    const office2 = naturalKey(world, 'nat-office-b', 200, humanTimes(world, 200, ATTACK_START, 20_000), { clientIp: '10.9.9.11', tenant: 'tenant-1' });
    const office3 = naturalKey(world, 'nat-office-c', 200, humanTimes(world, 200, ATTACK_START, 20_000), { clientIp: '10.9.9.12', tenant: 'tenant-2' });
    const attack = sybils(world, 'syb', 12, (k) => ({ clientIp: `203.0.113.${10 + k}`, tenant: `t-${k}` }), (key, t, x) => marginSampler(world, key, t, 16, x));
    const events = merge(natural, office, office2, office3, attack);
    const run = runDetector(aggregates.create(config()), events, compute);

    for (const key of keysOf(run, 'syb-')) expect(run.maxByKey.get(key), key).toBeGreaterThanOrEqual(FIRES);
    expect(run.lastEvidence.get('syb-11')!.join(' ')).toMatch(
      /^network 203\.0\.113\.0\/24, 12 keys: \d+% of pooled answers had a top-1\/top-2 margin < 0\.\d+ against \d+\.\d% for the model's traffic near these queries \(z=\d+\.\d\), score 1\.00$/,
    );
    for (const key of [...naturalKeys, 'nat-office-a', 'nat-office-b', 'nat-office-c']) expect(run.maxByKey.get(key) ?? 0, key).toBeLessThan(QUIET);
    expectInvisiblePerKey(events, 'syb-');
  });

  it('keeps no key ids in a key\'s own view (nothing reads them): every key\'s view shares one empty set of them', () => {
    const { world } = naturalScenario();
    const events = merge(...['a', 'b'].map((k) => naturalKey(world, `nat-${k}`, 30, humanTimes(world, 30, ATTACK_START, 20_000), { clientIp: '10.9.9.10', tenant: 'tenant-1' })));
    const run = runDetector(aggregates.create(config()), events, compute);
    const views = ['nat-a', 'nat-b'].map((k) => (run.states.get(k) as AggregatesState).own);
    expect(views.map((v) => v.contributions)).toEqual([30, 30]);
    expect(views[0].keys).toBe(views[1].keys);
    expect(Object.keys(views[0].keys)).toHaveLength(0);
  });

  it('judges pooled margins and entropies against the model\'s traffic near the queries: quiet on a team whose topic is ambiguous', () => {
    const world = ambiguousWorld();
    const team = Array.from({ length: 4 }, (_, k) =>
      humanTimes(world, 150, ATTACK_START + k * 60_000, 20_000).map((t) => world.event(`desk-${k}`, world.record(world.pick([0, 1])), t, { tenant: 'desk', clientIp: `192.0.2.${k + 1}` })),
    );
    const events = merge(background(world, 40, VOLUME, T0, 4 * HOUR), ...team, sybils(world, 'syb', 12, (k) => ({ clientIp: `203.0.113.${k + 1}` }), (key, t, x) => marginSampler(world, key, t, 16, x)));
    // The team's topic lies away from the model's centre, which the spread view rightly notes; it is not under test here.
    const noSpread = { spreadLog2Low: 10, spreadLog2High: 11, alignSpreadLog2: 10 };
    const local = runDetector(aggregates.create(config(noSpread)), events, compute);
    const global = runDetector(aggregates.create(config({ ...noSpread, local: { enabled: false } })), events, compute);

    expect(Math.max(...keysOf(global, 'desk-').map((k) => global.maxByKey.get(k)!))).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...keysOf(local, 'desk-').map((k) => local.maxByKey.get(k)!))).toBeLessThan(QUIET);
    for (const key of keysOf(local, 'syb-')) expect(local.maxByKey.get(key), key).toBeGreaterThanOrEqual(FIRES);
    for (const key of keysOf(local, 'user-')) expect(local.maxByKey.get(key)!, key).toBeLessThan(QUIET);
  });

  it('groups keys with alike query geometry across networks and tenants (a Sybil box sweep)', () => {
    const { world, natural, naturalKeys } = naturalScenario();
    const attack = sybils(world, 'syb', 15, (k) => ({ clientIp: `198.51.${k}.7`, tenant: `t-${k}` }), (key, t, x) => uniformBox(world, key, t, 5, x));
    const run = runDetector(aggregates.create(config()), merge(natural, attack), compute);

    const scores = keysOf(run, 'syb-').map((k) => run.maxByKey.get(k)!);
    expect(Math.min(...scores)).toBeGreaterThanOrEqual(FIRES);
    expect(run.lastEvidence.get('syb-14')!.join(' ')).toMatch(/^keys with alike query geometry \(geo:credit-v3:shape:\d+:c\), 1[0-5] keys: /);
    for (const key of naturalKeys) expect(run.maxByKey.get(key) ?? 0, key).toBeLessThan(QUIET);
  });

  it('sees a lattice sweep split over keys of different networks and tenants through their shared step direction', () => {
    const { world, natural, naturalKeys } = naturalScenario();
    // 12 keys, each stepping one feature in equal steps through its own point of the input box.
    const attack = Array.from({ length: 12 }, (_, k) => {
      const base = Array.from({ length: world.dim }, () => (2 * world.uniform() - 1) * 4);
      return scriptTimes(world, 40, ATTACK_START + k * 7_000, 3_000).map((t, i) => {
        const x = base.slice();
        x[0] = -5 + i * 0.25;
        return world.event(`syb-${k}`, x, t, { clientIp: `198.18.${k}.1`, tenant: `t-${k}` });
      });
    }).flat();
    const run = runDetector(aggregates.create(config()), merge(natural, attack), compute);

    for (const key of keysOf(run, 'syb-')) expect(run.maxByKey.get(key), key).toBeGreaterThanOrEqual(FIRES);
    expect(run.lastEvidence.get('syb-11')!.join(' ')).toMatch(
      /^keys with alike query geometry \(geo:credit-v3:step:\d+\), 12 keys: pooled queries lie \d\.\dx as far from the model's centre as its traffic does, score 1\.00$/,
    );
    for (const key of naturalKeys) expect(run.maxByKey.get(key) ?? 0, key).toBeLessThan(QUIET);
  });

  it('pools IPv6 clients by /64', () => {
    const { world, natural } = naturalScenario();
    const attack = sybils(world, 'syb', 10, (k) => ({ clientIp: `2001:db8:1:2::${(k + 1).toString(16)}`, tenant: `t-${k}` }), (key, t, x) => marginSampler(world, key, t, 16, x));
    const run = runDetector(aggregates.create(config()), merge(natural, attack), compute);
    for (const key of keysOf(run, 'syb-')) expect(run.maxByKey.get(key), key).toBeGreaterThanOrEqual(FIRES);
    expect(run.lastEvidence.get('syb-9')!.join(' ')).toMatch(/^network 2001:db8:1:2::\/64, 10 keys: /);
  });

  it('sees balanced class coverage pooled in one tenant, and gives the tenant’s bystanders only a share', () => {
    const { world, natural } = naturalScenario();
    const attack = sybils(world, 'syb', 12, (k) => ({ clientIp: `192.0.2.${k}`, tenant: 'acme' }), (key, t, x) => balancedClasses(world, key, t, x));
    const bystander = naturalKey(world, 'nat-acme', 120, scriptTimes(world, 120, ATTACK_START, 3_000), { clientIp: '10.200.0.1', tenant: 'acme' });
    const c = config();
    const run = runDetector(aggregates.create(c), merge(natural, attack, bystander), compute);

    for (const key of keysOf(run, 'syb-')) expect(run.maxByKey.get(key), key).toBeGreaterThanOrEqual(FIRES);
    expect(run.lastEvidence.get('syb-11')!.join(' ')).toMatch(/^tenant acme, 1[23] keys: pooled classes come back near-uniform \(balance \d\.\d\d on a 0 natural … 1 uniform scale over \d+ answers\), score \d\.\d\d$/);
    const b = run.maxByKey.get('nat-acme')!;
    expect(b).toBeGreaterThan(0);
    expect(b).toBeLessThanOrEqual(c.bystanderFactor + 1e-9);
    expect(run.lastEvidence.get('nat-acme')!.join(' ')).toMatch(/this key is a bystander: x0\.30/);
  });

  it('does not let one heavy attacking key make its tenant fire on the other members', () => {
    const { world, natural, naturalKeys } = naturalScenario();
    // tenant-0 holds ten natural background keys; one more key of it probes the boundary hard.
    const attack = marginSampler(world, 'atk-heavy', scriptTimes(world, 1_200, ATTACK_START, 1_000), 16, { tenant: 'tenant-0', clientIp: '10.0.0.99' });
    const run = runDetector(aggregates.create(config()), merge(natural, attack), compute);
    for (const key of naturalKeys) expect(run.maxByKey.get(key) ?? 0, key).toBeLessThan(QUIET);
  });

  it('keeps several users sweeping the same feature (an app slider) quiet although their geometry groups them', () => {
    const { world, natural } = naturalScenario();
    const sweeps = Array.from({ length: 6 }, (_, k) => whatIfSweep(world, `nat-slider-${k}`, 40, humanTimes(world, 40, ATTACK_START + k * 60_000))).flat();
    const run = runDetector(aggregates.create(config()), merge(natural, sweeps), compute);
    expect([...run.aggregates.keys()].some((k) => k.startsWith('geo:credit-v3:step:'))).toBe(true);
    for (const key of keysOf(run, 'nat-slider-')) expect(run.maxByKey.get(key), key).toBeLessThan(QUIET);
  });
});
