import { z } from 'zod';
import { type EwShare, shareExcessZ } from './EwShare.ts';
import { type BaselineOptions, type EpochHistogram, createHistogram, histogramReady, unitBin, unitCdf, unitQuantile } from './EpochHistogram.ts';

/**
 * Config of a per-model baseline of a [0,1] statistic of the answers (top-1
 * margin, normalised entropy) and of the tail a key is compared on.
 */
export const tailBaselineSchema = z
  .object({
    /** Event-time length of a baseline epoch (the reference is frozen within one). */
    epochMs: z.number().int().positive().default(10 * 60_000),
    /** EWMA weight of one completed epoch: slow on purpose, so a burst cannot move the baseline. */
    alpha: z.number().gt(0).max(1).default(0.1),
    /** Epochs with fewer samples carry over instead of being folded in. */
    minEpochSamples: z.number().int().positive().default(200),
    /** Samples the reference needs before any key is scored against it. */
    minReferenceSamples: z.number().int().positive().default(500),
    /** Most samples one key adds to the model baseline per epoch. */
    perKeyEpochCap: z.number().int().positive().default(50),
    /** A key scoring at least this much no longer feeds the baseline… */
    excludeAboveScore: z.number().min(0).max(1).default(0.3),
    /** …nor does one whose own tail share is already this many standard errors above the baseline's… */
    leanZ: z.number().default(2),
    /** …which is judged once it has this many answers (before that, once the baseline exists, it does not feed it). */
    probationEvents: z.number().int().min(0).default(10),
    bins: z.number().int().min(10).max(200).default(50),
  })
  .strict()
  .prefault({});
export type TailBaselineConfig = z.output<typeof tailBaselineSchema>;

export function baselineOptions(c: TailBaselineConfig): BaselineOptions {
  return { epochMs: c.epochMs, alpha: c.alpha, minEpochSamples: c.minEpochSamples };
}

export function createTailBaseline(c: TailBaselineConfig): EpochHistogram {
  return createHistogram(c.bins);
}

/** Where a key's statistic counts as "in the tail": below the threshold (margins) or above it (entropies). */
export type TailSide = 'low' | 'high';

export interface Tail {
  threshold: number;
  /** Share of the baseline in the tail. */
  expected: number;
}

/**
 * The tail of the reference at quantile `q` (a robust quantile of many keys'
 * capped contributions), with its threshold clamped to [min, max]. Null while
 * the baseline warms up.
 */
export function referenceTail(h: EpochHistogram, c: TailBaselineConfig, side: TailSide, q: number, min: number, max: number): Tail | null {
  if (!histogramReady(h, c.minReferenceSamples)) return null;
  const raw = unitQuantile(h.ref, side === 'low' ? q : 1 - q);
  const threshold = Math.min(max, Math.max(min, raw));
  const below = unitCdf(h.ref, threshold);
  return { threshold, expected: side === 'low' ? below : 1 - below };
}

/**
 * `referenceTail` remembered per histogram while its reference stays the
 * same (a reference changes only when an epoch is folded in), for callers
 * that ask once per event with fixed arguments per histogram.
 */
export class TailCache {
  private readonly seen = new Map<EpochHistogram, { ref: number[] | null; samples: number; tail: Tail | null }>();

  get(h: EpochHistogram, c: TailBaselineConfig, side: TailSide, q: number, min: number, max: number): Tail | null {
    const hit = this.seen.get(h);
    if (hit && hit.ref === h.ref && hit.samples === h.refSamples) return hit.tail;
    const tail = referenceTail(h, c, side, q, min, max);
    this.seen.set(h, { ref: h.ref, samples: h.refSamples, tail });
    return tail;
  }
}

/**
 * Whether a key's answer may feed the model baseline: always while the
 * baseline warms up (capped per key and epoch), then only from keys past
 * probation whose own tail share is not raised and whose score is low — a
 * fresh Sybil key cannot feed its first probing answers in.
 */
export function mayFeedBaseline(tail: Tail | null, own: EwShare, window: number, score: number, c: TailBaselineConfig): boolean {
  if (score >= c.excludeAboveScore) return false;
  if (!tail) return true;
  return own.n >= c.probationEvents && shareExcessZ(own, window) < c.leanZ;
}

export function inTail(value: number, tail: Tail, side: TailSide): boolean {
  return side === 'low' ? value < tail.threshold : value > tail.threshold;
}

export function tailBin(value: number, c: TailBaselineConfig): number {
  return unitBin(value, c.bins);
}
