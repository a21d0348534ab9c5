import { z } from 'zod';
import type { InferenceEvent } from '../../src/contract.ts';
import type { ModelReference } from '../../src/baselines/ModelReference.ts';
import { type BatchWalk, modelProbs, usableAnswer } from './batch.ts';
import type { baselineOptions, TailCache } from './TailBaseline.ts';
import { type EwShare, shareExcess, shareExcessZ } from './EwShare.ts';
import { fmt, pct, ramp } from './math.ts';

/**
 * Config fields of a key's share of answers in a tail of the model's
 * baseline (boundary-probing's small margins, entropy's high entropies):
 * spread into the detector's `z.object`, after its tail quantile and clamps.
 */
export const tailShareFields = {
  /** Effective window (events) of the key's tail share. */
  window: z.number().int().positive().default(200),
  /** Scored answers a key needs before its share counts. */
  minEvents: z.number().int().positive().default(50),
  /** Excess share (s − p₀)/(1 − p₀) where the score starts and where it is full. */
  excessLow: z.number().min(0).max(1).default(0.15),
  excessHigh: z.number().min(0).max(1).default(0.5),
  /** Binomial z-score of the excess where the score starts and where it is full. */
  zLow: z.number().default(3),
  zHigh: z.number().default(6),
};

export interface TailShareConfig {
  window: number;
  minEvents: number;
  excessLow: number;
  excessHigh: number;
  zLow: number;
  zHigh: number;
}

/** An answer's probabilities when they can be scored (a usable answer with at least two classes), else null. */
export function scorableProbs(e: InferenceEvent): readonly number[] | null {
  if (!usableAnswer(e)) return null;
  const p = modelProbs(e);
  return p.length >= 2 ? p : null;
}

/**
 * Score of a key's tail share: 0 before `minEvents` answers, then the lesser
 * of the ramps of its excess over the baseline share and of that excess's
 * binomial z-score (both must be large: a big excess on few answers, or a
 * significant but tiny one, is not enough).
 */
export function tailShareScore(sh: EwShare, c: TailShareConfig): number {
  if (sh.n < c.minEvents) return 0;
  return Math.min(ramp(shareExcess(sh), c.excessLow, c.excessHigh), ramp(shareExcessZ(sh, c.window), c.zLow, c.zHigh));
}

/**
 * Evidence line for a tail share: `what` is the condition, e.g. "had normalised entropy > 0.9"; `local`
 * when the expected share came from the model's traffic near the key's queries (`LocalTail`, from the model's shared reference), not from
 * its model-wide baseline.
 */
export function tailShareEvidence(sh: EwShare, c: TailShareConfig, what: string, model: string, local = false): string {
  const against = local ? `model ${model}'s traffic near these queries` : `model ${model}'s baseline`;
  return (
    `${pct(sh.s)} of recent answers (window ${c.window}, ${sh.n} seen) ${what}, ` +
    `against ${pct(sh.e, 1)} for ${against} (z=${fmt(shareExcessZ(sh, c.window), 1)})`
  );
}

/**
 * What the event-time walk of a tail-share detector (boundary-probing, entropy) reads and writes of one batch,
 * besides its own columns: the model baselines' options, each key's offset into the batch's answer columns,
 * the signature column, each event's view for the evidence, the tails read per baseline, and each key's owner
 * and model reference for the local tail.
 */
export interface TailShareWalk<S, V> extends BatchWalk<S> {
  opts: ReturnType<typeof baselineOptions>;
  offsets: number[];
  signature: Float64Array[];
  views: V[][];
  tails: TailCache;
  owners: Uint32Array;
  refs: Map<string, ModelReference | null>;
}
