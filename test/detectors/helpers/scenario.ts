import type { InferenceEvent } from '../../../src/contract.ts';
import { ambiguousTopic, ambiguousWorld, background, humanTimes, merge, naturalKey, replayTestSet, scriptTimes, whatIfSweep, World } from './world.ts';

export const HOUR = 3_600_000;
export const T0 = Date.UTC(2024, 0, 15, 8);
/** When attacks start: the model baselines have had two hours of natural traffic. */
export const ATTACK_START = T0 + 2 * HOUR;
/** Queries per attacking key, and per natural heavy key (same volume). */
export const VOLUME = 400;
/** Most a natural key may score on any detector: below the ladder's first step (observe = 0.3). */
export const QUIET = 0.2;
/** Least an attacking key must reach. */
export const FIRES = 0.8;

export interface Scenario {
  world: World;
  /** Natural keys, in event-time order: background users, a what-if sweep, a heavy replay of a fixed test set, a heavy scripted user. */
  natural: InferenceEvent[];
  naturalKeys: string[];
}

/**
 * The natural side of every detector test: 40 background users over four
 * hours, plus, from ATTACK_START, a legitimate one-feature what-if sweep of a
 * few dozen queries, a heavy user replaying a fixed test set of 100 records
 * four times on a timer, and a heavy user sending VOLUME real records on a
 * 2 s timer (the same volume and cadence as the attacks).
 */
export function naturalScenario(seed = 7): Scenario {
  const world = new World({ seed });
  const natural = merge(
    background(world, 40, VOLUME, T0, 4 * HOUR),
    whatIfSweep(world, 'nat-whatif', 40, humanTimes(world, 40, ATTACK_START)),
    replayTestSet(world, 'nat-replay', 100, 4, ATTACK_START),
    naturalKey(world, 'nat-heavy', VOLUME, scriptTimes(world, VOLUME, ATTACK_START, 2_000)),
  );
  const naturalKeys = [...new Set(natural.map((e) => e.api_key))];
  return { world, natural, naturalKeys };
}

/** The attacker's arrival times: VOLUME queries on a 2 s timer from ATTACK_START. */
export function attackTimes(world: World, n = VOLUME, start = ATTACK_START): number[] {
  return scriptTimes(world, n, start, 2_000);
}

/**
 * The natural traffic of `ambiguousWorld` (40 background users over four hours) and, from ATTACK_START,
 * `nat-ambiguous`: a person asking VOLUME questions about the world's ambiguous topic at a person's pace.
 */
export function ambiguousScenario(seed = 11): Scenario & { person: InferenceEvent[] } {
  const world = ambiguousWorld(seed);
  const natural = background(world, 40, VOLUME, T0, 4 * HOUR);
  const person = ambiguousTopic(world, 'nat-ambiguous', humanTimes(world, VOLUME, ATTACK_START, 20_000));
  return { world, natural, naturalKeys: [...new Set(natural.map((e) => e.api_key))], person };
}
