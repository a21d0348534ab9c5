import type { Attack, AttackSetup } from './attacks/Attack.ts';
import { BaselinePoisoner } from './attacks/BaselinePoisoner.ts';
import { HalfNaturalHalfUniform } from './attacks/HalfNaturalHalfUniform.ts';
import { KeyRotator } from './attacks/KeyRotator.ts';
import { OfficeHoursThief } from './attacks/OfficeHoursThief.ts';
import { PapernotRawSpace } from './attacks/PapernotRawSpace.ts';
import { TramerEquationSolving } from './attacks/TramerEquationSolving.ts';
import { UncertaintySampling } from './attacks/UncertaintySampling.ts';
import { NaturalSampler } from './NaturalSampler.ts';
import { MinorityClassAnalyst } from './populations/MinorityClassAnalyst.ts';
import { ShiftedSegmentUser, shiftedSubset } from './populations/ShiftedSegmentUser.ts';
import { StratifiedValidationTeam } from './populations/StratifiedValidationTeam.ts';
import { TopicUser, topicRegion } from './populations/TopicUser.ts';
import type { Rng } from './Rng.ts';
import type { ScenarioSize } from './Scenario.ts';
import type { VictimWorld } from './Victim.ts';
import { DAY, HOUR, MINUTE, SIM_EPOCH } from './world/Schedule.ts';
import type { Actor, KeyIdentity } from './world/types.ts';

/** Calls the issue fixes for the uniform-random campaigns (Tramèr at 45/min, alone and after poisoning). */
const ISSUE_UNIFORM_CALLS = 2500;

const pad = (i: number) => String(i).padStart(2, '0');

/** A campaign paced like a person starts its day in the morning of its attack day (its sessions then follow office hours). */
function morningOf(setup: AttackSetup): AttackSetup {
  return { ...setup, start: Math.floor(setup.start / DAY) * DAY + 7 * HOUR };
}

/**
 * Benign populations added to every world's cast beside the original five
 * (interactive users, batch scorers, what-if analysts, regression
 * testers, users from elsewhere): issue 10's honest keys that were
 * punished —
 * - minority-class analysts (`size.extraMembers` keys, own tenant and network each);
 * - stratified validation teams (half as many, at least one);
 * - topic users: groups of at least three keys in different tenants and
 *   networks sharing one region of the input space (one group, two in a
 *   full run);
 * - users of a new customer segment whose data are a covariate-shifted
 *   subset of the home rows (`size.extraMembers` keys, one segment).
 * Every member draws from its own fork of `rng`.
 */
export function extraBenign(world: VictimWorld, size: ScenarioSize, rng: Rng, start: number, end: number): Actor[] {
  const m = size.extraMembers;
  const std = world.standardizer;
  const natural = new NaturalSampler(world.train, world);
  const out: Actor[] = [];
  for (let i = 0; i < m; i++) {
    const key: KeyIdentity = { apiKey: `fraud-${pad(i)}`, tenant: `risk-${pad(i)}`, clientIp: `10.6.${i}.60` };
    out.push(new MinorityClassAnalyst(key.apiKey, key, natural, std, rng.fork(`fraud-${i}`), start, end));
  }
  for (let i = 0; i < Math.max(1, Math.ceil(m / 2)); i++) {
    const key: KeyIdentity = { apiKey: `val-${pad(i)}`, tenant: `ml-eval-${pad(i)}`, clientIp: `10.8.${i}.80` };
    out.push(new StratifiedValidationTeam(key.apiKey, key, natural, std, rng.fork(`val-${i}`), start, end));
  }
  const groups = Math.max(1, Math.floor(m / 2));
  const members = Math.max(3, m);
  const regionSize = Math.max(20, Math.round(0.03 * world.train.length));
  for (let g = 0; g < groups; g++) {
    const region = topicRegion(world.train, std, rng.fork(`topic-region-${g}`), regionSize);
    for (let i = 0; i < members; i++) {
      const key: KeyIdentity = { apiKey: `topic-${g}-${pad(i)}`, tenant: `topic-${g}-org-${pad(i)}`, clientIp: `10.9.${g * 32 + i}.90` };
      out.push(new TopicUser(key.apiKey, key, natural, std, rng.fork(`topic-${g}-${i}`), start, end, region));
    }
  }
  const segment = shiftedSubset(world.train, std, rng.fork('segment-subset'), Math.max(30, Math.round(0.25 * world.train.length)), 1);
  const segmentSampler = new NaturalSampler(segment, world);
  for (let i = 0; i < m; i++) {
    const key: KeyIdentity = { apiKey: `segment-${pad(i)}`, tenant: `segment-${pad(i)}`, clientIp: `10.10.${i}.100` };
    out.push(new ShiftedSegmentUser(key.apiKey, key, segmentSampler, std, rng.fork(`segment-${i}`), start, end));
  }
  return out;
}

/**
 * Attack campaigns added to every world's cast beside the original nine:
 * Tramèr's uniform queries at 45/min; a baseline poisoner (many
 * short-lived keys sending uniform queries on the first day, up to half an
 * hour before the campaign that follows) and that campaign (Tramèr at
 * 45/min), reported apart; half natural, half uniform; Papernot's
 * augmentation stepping in raw space; margin-based uncertainty sampling
 * over uniform candidates; a key rotator around entropy-based uncertainty
 * sampling over the foreign rows (a fresh key every 150–300 queries); and
 * an office-hours thief, which starts on the morning of the attack day. The uniform campaigns send the issue's 2,500
 * calls, or `size.budget` when that is smaller.
 */
export function extraAttacks(world: VictimWorld, size: ScenarioSize, rng: Rng, setup: (name: string, budget?: number) => AttackSetup): Attack[] {
  const uniformCalls = Math.min(ISSUE_UNIFORM_CALLS, size.budget);
  const end = SIM_EPOCH + size.days * DAY;
  const poisoned = setup('poisoned-tramer', uniformCalls);
  const window = Math.max(30 * MINUTE, Math.min(SIM_EPOCH + DAY, poisoned.start - 30 * MINUTE) - SIM_EPOCH);
  const poisonerKeys = Math.max(8, 2 * size.sybilKeys) + rng.fork('poisoner-keys').int(0, 4);
  return [
    new TramerEquationSolving(setup('tramer-45', uniformCalls), 'tramer-45', 'Tramèr uniform 45/min', 45, '198.18.13.10'),
    new BaselinePoisoner({ ...setup('poisoner'), start: SIM_EPOCH }, poisonerKeys, window),
    new TramerEquationSolving(poisoned, 'poisoned-tramer', 'Tramèr after baseline poisoning', 45, '198.18.14.10'),
    new HalfNaturalHalfUniform(setup('half-natural')),
    new PapernotRawSpace(setup('papernot-raw')),
    new UncertaintySampling(setup('uncertainty'), 'uniform', 'margin'),
    new KeyRotator(setup('rotator'), (s) => new UncertaintySampling(s, 'foreign', 'entropy', 'rotator-campaign', 'key rotator')),
    new OfficeHoursThief(morningOf(setup('office-thief')), end),
  ];
}
