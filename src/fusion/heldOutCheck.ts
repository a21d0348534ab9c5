import type { Config } from '../config/configSchema.ts';
import { type Level, levelRank } from '../contract.ts';
import { initialLadderState, ResponseLadder } from '../policy/ResponseLadder.ts';
import type { Fusion } from './createFusion.ts';
import { rocAuc } from './rocAuc.ts';
import type { ScoredKey } from './ScoredKey.ts';

/** The ladder levels the check reports on. */
export const CHECKED_LEVELS = ['observe', 'throttle', 'truncate'] as const satisfies readonly Level[];

/** Keys of one class reaching one level. */
export interface Reach {
  level: (typeof CHECKED_LEVELS)[number];
  attack: number;
  benign: number;
}

/** How one fusion does on a set of labelled keys. */
export interface HeldOutResult {
  attackKeys: number;
  benignKeys: number;
  /** AUC of each key's highest risk, attack keys against benign ones. */
  auc: number;
  /** Per level, how many keys of each class reached it (or a higher level) at some event. */
  reach: Reach[];
  /** Median over attack keys of the events a key had made when it first reached truncate (Infinity for a key that never did). */
  medianEventsToTruncate: number;
}

/**
 * Replays labelled keys' score vectors through `fusion` and the real
 * response ladder of `policy` (hysteresis, caps, allowlists, the key's
 * tenant's overrides), event by event, and summarises per key: the highest
 * risk, which levels it reached, and after how many events it reached
 * truncate. Keys are independent here; a key's scores already include what
 * aggregate detectors saw across keys.
 */
export function heldOutCheck(keys: readonly ScoredKey[], detectors: number, fusion: Fusion, policy: Config['policy']): HeldOutResult {
  const ladder = new ResponseLadder(policy);
  const truncate = levelRank('truncate');
  const peak: { attack: boolean; maxRisk: number; maxRank: number; toTruncate: number }[] = [];
  for (const k of keys) {
    const state = initialLadderState();
    let maxRisk = 0;
    let maxRank = 0;
    let toTruncate = Infinity;
    for (let e = 0; e < k.events; e++) {
      const risk = fusion.risk(k.scores.subarray(e * detectors, (e + 1) * detectors));
      maxRisk = Math.max(maxRisk, risk);
      const rank = levelRank(ladder.step(k.key, state, risk, k.ts[e], k.tenant).level);
      maxRank = Math.max(maxRank, rank);
      if (rank >= truncate && toTruncate === Infinity) toTruncate = e + 1;
    }
    peak.push({ attack: k.attack, maxRisk, maxRank, toTruncate });
  }
  const attack = peak.filter((p) => p.attack);
  const benign = peak.filter((p) => !p.attack);
  return {
    attackKeys: attack.length,
    benignKeys: benign.length,
    auc: rocAuc(
      attack.map((p) => p.maxRisk),
      benign.map((p) => p.maxRisk),
    ),
    reach: CHECKED_LEVELS.map((level) => ({
      level,
      attack: attack.filter((p) => p.maxRank >= levelRank(level)).length,
      benign: benign.filter((p) => p.maxRank >= levelRank(level)).length,
    })),
    medianEventsToTruncate: medianWithNever(attack.map((p) => p.toTruncate)),
  };
}

/** The median where Infinity stands for "never" (simple-statistics interpolates Infinity − Infinity into NaN); NaN when empty. */
function medianWithNever(xs: number[]): number {
  if (!xs.length) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return (sorted[(sorted.length - 1) >> 1] + sorted[sorted.length >> 1]) / 2;
}
