import { ActiveThief } from './attacks/ActiveThief.ts';
import type { Attack, AttackSetup, SurrogateSpec } from './attacks/Attack.ts';
import { InterleavedNatural } from './attacks/InterleavedNatural.ts';
import { KnockoffNets } from './attacks/KnockoffNets.ts';
import { LatticeSweep } from './attacks/LatticeSweep.ts';
import { LowdMeekLineSearch } from './attacks/LowdMeekLineSearch.ts';
import { PapernotJacobian } from './attacks/PapernotJacobian.ts';
import { SlowAndLow } from './attacks/SlowAndLow.ts';
import { SybilSpread } from './attacks/SybilSpread.ts';
import { TramerEquationSolving } from './attacks/TramerEquationSolving.ts';
import { extraAttacks, extraBenign } from './castExtras.ts';
import { NaturalSampler } from './NaturalSampler.ts';
import { BatchScorer } from './populations/BatchScorer.ts';
import { InteractiveUser } from './populations/InteractiveUser.ts';
import { UserFromElsewhere } from './populations/UserFromElsewhere.ts';
import { RegressionTester } from './populations/RegressionTester.ts';
import { WhatIfAnalyst } from './populations/WhatIfAnalyst.ts';
import type { Rng } from './Rng.ts';
import type { VictimWorld } from './Victim.ts';
import { DAY, HOUR, SIM_EPOCH } from './world/Schedule.ts';
import type { Actor } from './world/types.ts';

/** How big one run is. */
export interface ScenarioSize {
  /** quick / full: `bench:quality`; family / tiny: `bench:worlds` (and its CI subset). */
  name: 'quick' | 'full' | 'family' | 'tiny';
  /** Simulated days of traffic. */
  days: number;
  /** Attack queries per campaign. */
  budget: number;
  interactiveUsers: number;
  /** Interactive users per tenant (they share the tenant's office address). */
  usersPerTenant: number;
  batchScorers: number;
  analysts: number;
  testers: number;
  /** Interactive users whose records are the world's foreign rows (New York days for weather; `UserFromElsewhere`). */
  usersFromElsewhere: number;
  sybilKeys: number;
  /** Members of each benign population `castExtras` adds. */
  extraMembers: number;
  victimHidden: readonly number[];
  victimPasses: number;
  surrogate: SurrogateSpec;
}

export const FULL: ScenarioSize = {
  name: 'full',
  days: 3,
  budget: 2000,
  interactiveUsers: 30,
  usersPerTenant: 5,
  batchScorers: 3,
  analysts: 8,
  testers: 4,
  usersFromElsewhere: 5,
  sybilKeys: 20,
  extraMembers: 4,
  victimHidden: [32, 32],
  victimPasses: 40_000,
  surrogate: { hidden: [32, 32], passes: 40_000, innerPasses: 12_000 },
};

export const QUICK: ScenarioSize = {
  name: 'quick',
  days: 1,
  budget: 300,
  interactiveUsers: 8,
  usersPerTenant: 4,
  batchScorers: 1,
  analysts: 3,
  testers: 2,
  usersFromElsewhere: 2,
  sybilKeys: 5,
  extraMembers: 2,
  victimHidden: [32, 32],
  victimPasses: 30_000,
  surrogate: { hidden: [32, 32], passes: 12_000, innerPasses: 4_000 },
};

/**
 * `bench:worlds`: one unprotected world per member of the family, detection
 * only (no responses worlds, no final surrogates; the substitutes attacks
 * retrain while querying still train). Victims come from each world's
 * spec, not from `victimHidden`/`victimPasses`.
 */
export const FAMILY: ScenarioSize = {
  name: 'family',
  days: 2,
  budget: 1000,
  interactiveUsers: 24,
  usersPerTenant: 4,
  batchScorers: 2,
  analysts: 6,
  testers: 3,
  usersFromElsewhere: 4,
  sybilKeys: 10,
  extraMembers: 3,
  victimHidden: [32, 32],
  victimPasses: 40_000,
  surrogate: { hidden: [32, 32], passes: 12_000, innerPasses: 4_000 },
};

/** The CI subset of `bench:worlds`: a few keys of each population, short campaigns. */
export const TINY: ScenarioSize = {
  name: 'tiny',
  days: 1,
  budget: 120,
  interactiveUsers: 3,
  usersPerTenant: 3,
  batchScorers: 1,
  analysts: 1,
  testers: 1,
  usersFromElsewhere: 1,
  sybilKeys: 3,
  extraMembers: 1,
  victimHidden: [16],
  victimPasses: 4_000,
  surrogate: { hidden: [16], passes: 2_000, innerPasses: 1_000 },
};

export interface Cast {
  benign: Actor[];
  attacks: Attack[];
  start: number;
  end: number;
}

/**
 * Everyone in the simulated world. Benign traffic runs for the whole span;
 * attack campaigns start during working hours of the second day (the first
 * day gives probewatch's baselines benign traffic to learn from, as in a
 * running deployment), except slow-and-low, which trickles from the start.
 * With one day (quick), campaigns start in the afternoon. `castExtras`
 * adds the populations and attacks beyond these, from forks of `rng` of
 * their own.
 */
export function buildCast(world: VictimWorld, size: ScenarioSize, rng: Rng): Cast {
  const start = SIM_EPOCH;
  const end = start + size.days * DAY;
  const natural = new NaturalSampler(world.train, world);
  const std = world.standardizer;
  const benign: Actor[] = [];
  for (let i = 0; i < size.interactiveUsers; i++) {
    const tenant = Math.floor(i / size.usersPerTenant);
    const key = { apiKey: `user-${pad(i)}`, tenant: `org-${pad(tenant)}`, clientIp: `10.1.${tenant}.10` };
    benign.push(new InteractiveUser(`user-${pad(i)}`, key, natural, std, rng.fork(`user-${i}`), start, end));
  }
  for (let i = 0; i < size.batchScorers; i++) {
    const key = { apiKey: `batch-${pad(i)}`, tenant: `bulk-${pad(i)}`, clientIp: `10.2.${i}.20` };
    benign.push(new BatchScorer(`batch-${pad(i)}`, key, natural, std, rng.fork(`batch-${i}`), start, end));
  }
  for (let i = 0; i < size.analysts; i++) {
    const key = { apiKey: `analyst-${pad(i)}`, tenant: `research-${pad(i % 3)}`, clientIp: `10.3.${i}.30` };
    benign.push(new WhatIfAnalyst(`analyst-${pad(i)}`, key, natural, std, rng.fork(`analyst-${i}`), start, end));
  }
  for (let i = 0; i < size.testers; i++) {
    const key = { apiKey: `ci-${pad(i)}`, tenant: `product-${pad(i)}`, clientIp: `10.4.${i}.40` };
    benign.push(new RegressionTester(`ci-${pad(i)}`, key, natural, std, rng.fork(`ci-${i}`), start, end));
  }
  const elsewhere = new NaturalSampler(world.thief, world);
  for (let i = 0; i < size.usersFromElsewhere; i++) {
    const key = { apiKey: `away-${pad(i)}`, tenant: `away-${pad(i)}`, clientIp: `10.5.${i}.50` };
    benign.push(new UserFromElsewhere(`away-${pad(i)}`, key, elsewhere, std, rng.fork(`away-${i}`), start, end));
  }

  const attackDay = size.days > 1 ? start + DAY : start;
  const [from, to] = size.days > 1 ? [9, 17] : [12, 18];
  const setup = (name: string, budget = size.budget): AttackSetup => {
    const r = rng.fork(`attack-${name}`);
    return { world, budget, start: Math.round(attackDay + r.uniform(from, to) * HOUR), rng: r, surrogate: size.surrogate };
  };
  const slow = { ...setup('slow-low'), start: start + Math.round(rng.fork('slow-start').uniform(0, HOUR)) };
  const attacks: Attack[] = [
    new TramerEquationSolving(setup('tramer')),
    new LatticeSweep(setup('lattice')),
    new LowdMeekLineSearch(setup('lowd-meek')),
    new PapernotJacobian(setup('papernot')),
    new KnockoffNets(setup('knockoff')),
    new ActiveThief(setup('activethief')),
    new SlowAndLow(slow, end - slow.start),
    new SybilSpread(setup('sybil'), size.sybilKeys),
    new InterleavedNatural(setup('interleaved')),
  ];
  benign.push(...extraBenign(world, size, rng.fork('extra-benign'), start, end));
  attacks.push(...extraAttacks(world, size, rng.fork('extra-attacks'), setup));
  return { benign, attacks, start, end };
}

function pad(i: number): string {
  return String(i).padStart(2, '0');
}
