import type { Rng } from '../Rng.ts';
import type { Box, VictimWorld } from '../Victim.ts';
import type { Actor, KeyIdentity } from '../world/types.ts';

/** What an attacker's surrogate learns from: the probability vectors, or only the top-1 labels. */
export type AnswerUse = 'probabilities' | 'labels';

/** The surrogate every attacker trains (the attacker knows the model family, as in Tramèr et al.). */
export interface SurrogateSpec {
  hidden: readonly number[];
  /** Training examples seen by the final surrogate (epochs = passes / rows). */
  passes: number;
  /** Passes for the substitutes attacks retrain while querying (Papernot, Knockoff, ActiveThief). */
  innerPasses: number;
}

/** What every attacker is given. */
export interface AttackSetup {
  world: VictimWorld;
  /** Queries the campaign may make (natural cover traffic not included). */
  budget: number;
  /** Event time the campaign starts. */
  start: number;
  rng: Rng;
  surrogate: SurrogateSpec;
}

/** An attacker campaign: an actor that also says how it uses answers, at what pace, and from which paper. */
export interface Attack extends Actor {
  readonly kind: 'attack';
  /** The published algorithm, with its reference. */
  readonly algorithm: string;
  /** Pace, for the report (e.g. "60/min scripted"). */
  readonly pace: string;
  readonly uses: AnswerUse;
  /**
   * Calls at the start of the campaign that the bar does not count: issue
   * 10 counts Papernot's queries from its first augmented one, after the
   * natural seed set. Absent: every call counts.
   */
  readonly graceCalls?: number;
}

/** Identity of an attacker key: its own tenant and an address in a hosting range. */
export function attackerKey(name: string, ip: string, tenant = `t-${name}`): KeyIdentity {
  return { apiKey: `atk-${name}`, tenant, clientIp: ip };
}

/** A point drawn uniformly from the box. */
export function uniformInBox(rng: Rng, box: Box): number[] {
  return box.lo.map((lo, j) => rng.uniform(lo, box.hi[j]));
}

export function clipToBox(x: readonly number[], box: Box): number[] {
  return x.map((v, j) => Math.min(box.hi[j], Math.max(box.lo[j], v)));
}

/** Standardised features of a raw natural record. */
export function standardize(world: VictimWorld, raw: readonly number[]): number[] {
  return world.standardizer.apply(raw);
}

