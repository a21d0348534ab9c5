import type { Attack, AttackSetup } from './attacks/Attack.ts';
import type { Rng } from './Rng.ts';
import type { ScenarioSize } from './Scenario.ts';
import type { VictimWorld } from './Victim.ts';
import type { Actor } from './world/types.ts';

/**
 * Benign populations added to every world's cast beside the original five
 * (interactive users, batch scorers, what-if analysts, regression
 * testers, users from elsewhere).
 *
 * Contract for implementers:
 * - Draw every random number from a fork of `rng` named after the member
 *   (`rng.fork('fraud-3')`), never from `rng` itself, so adding a member
 *   never shifts another actor's draws.
 * - Calls fall within [`start`, `end`) of event time (ms; `SIM_EPOCH` is a
 *   Monday 00:00 UTC); `size.days` days are simulated.
 * - Scale counts with `size` (e.g. `size.extraMembers` members per
 *   population, `size.days`); the family runner uses small sizes.
 * - API keys must be unique in the world; tenants and client IPs are free
 *   to share (a team behind one office address).
 * - Natural inputs: `new NaturalSampler(world.train, world)` (home rows),
 *   `new NaturalSampler(world.thief, world)` (the foreign rows); inputs go
 *   to the API standardised (`world.standardizer.apply(raw)`), raw values
 *   rounded to `world.resolution`. `world.prior` is the class prior of the
 *   home rows, `world.features` names the raw features.
 * - Subclass `BenignActor` (populations/) when one key and one sampler fit.
 */
export function extraBenign(_world: VictimWorld, _size: ScenarioSize, _rng: Rng, _start: number, _end: number): Actor[] {
  return [];
}

/**
 * Attack campaigns added to every world's cast beside the original nine.
 *
 * `setup(name, budget?)` gives a campaign its `AttackSetup`: the world, a
 * budget (default `size.budget`), a start time during working hours of the
 * attack day (the second simulated day, or the afternoon of the only one)
 * and its own rng (a fork of `rng` named `attack-<name>`). Use a name no
 * other campaign uses. An attack may override `start` (e.g. a poisoner
 * that must act on the first day) with `{ ...setup(name), start }`, and
 * should scale budgets that the issue fixes (2,500 calls) to
 * `size.budget` when that is smaller, so quick runs stay quick.
 * Each campaign is one actor; its population name is the attack family the
 * tables report, and its keys start with `atk-` (see `attackerKey`).
 */
export function extraAttacks(_world: VictimWorld, _size: ScenarioSize, _rng: Rng, _setup: (name: string, budget?: number) => AttackSetup): Attack[] {
  return [];
}
