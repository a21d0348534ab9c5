import { z } from 'zod';
import { appended } from './appended.ts';
import { addDecayed, createDecayedCount, type DecayedCount, decayedValue } from './DecayedCount.ts';
import { compact, compactInto, l2 } from './math.ts';

/**
 * Line-search (bisection) detection on input sketches, after Lowd & Meek,
 * "Adversarial learning", KDD 2005, and its use for model extraction by
 * Tramèr et al., "Stealing Machine Learning Models via Prediction APIs",
 * USENIX Security 2016: to locate a decision boundary between a positive
 * point x⁺ and a negative point x⁻ the attacker queries their midpoint, keeps
 * the half whose ends disagree, and repeats. Successive queries are then
 * collinear, each step is half the one before, and the label flips along the
 * way. Sketches are linear projections (src/gateway/RandomProjection.ts), so
 * midpoints stay midpoints and collinearity survives the projection.
 *
 * A few chains are followed at once so that interleaved line searches (one
 * per feature, round-robin) are still recognised.
 */
export const bisectionSchema = z
  .object({
    /** Accepted ratio of a step to the one before it (an exact bisection gives 0.5). */
    ratioMin: z.number().positive().default(0.35),
    ratioMax: z.number().positive().default(0.65),
    /** Least |cos| between successive steps (collinear queries). */
    minAbsCos: z.number().min(0).max(1).default(0.97),
    /** Halvings after which a chain counts as a line search. */
    minSteps: z.number().int().positive().default(6),
    /** Label changes needed along the chain (it must straddle a boundary). */
    minFlips: z.number().int().min(0).default(1),
    /** Chains followed at once (each holds two sketches: bounds the state). */
    maxChains: z.number().int().positive().max(16).default(3),
    /** Half-life of the count of completed line searches, event time. */
    halfLifeMs: z.number().int().positive().default(6 * 3_600_000),
    /** Completed line searches (decayed) for a full score; one search alone gives 1/this. */
    chainsForFullScore: z.number().positive().default(4),
  })
  .strict()
  .prefault({});
export type BisectionConfig = z.output<typeof bisectionSchema>;

interface Chain {
  /** Last point of the chain and the unit direction of its last step. */
  p: number[];
  u: number[];
  step: number;
  steps: number;
  flips: number;
  label: number;
  counted: boolean;
  /** Sequence number of the last query that extended it (for replacement). */
  seen: number;
}

export interface BisectionState {
  prev: number[] | null;
  prevLabel: number;
  seq: number;
  chains: Chain[];
  completed: DecayedCount;
  /** Longest chain seen (halvings), for evidence. */
  longest: number;
}

export function createBisectionState(): BisectionState {
  return { prev: null, prevLabel: -1, seq: 0, chains: [], completed: createDecayedCount(), longest: 0 };
}

export interface BisectionStep {
  /** True when this query completed a line search. */
  readonly completed: boolean;
  /** True when this query halved the previous step of a collinear chain. */
  readonly halving: boolean;
}

/** What `observeQuery` returns, shared (read, never written). */
const NO_STEP: BisectionStep = Object.freeze({ completed: false, halving: false });
const HALVING: BisectionStep = Object.freeze({ completed: false, halving: true });
const COMPLETED: BisectionStep = Object.freeze({ completed: true, halving: true });

/** Feeds one query (sketch and label); returns whether it extended or completed a line search. */
export function observeQuery(s: BisectionState, sketch: readonly number[], label: number, ts: number, c: BisectionConfig): BisectionStep {
  if (sketch.length === 0) return NO_STEP;
  let result = NO_STEP;
  s.seq++;
  let best = -1;
  let bestErr = Infinity;
  let bestStep = 0;
  for (let k = 0; k < s.chains.length; k++) {
    const ch = s.chains[k];
    if (ch.p.length !== sketch.length) continue;
    const d = l2(sketch, ch.p);
    if (d === 0 || ch.step === 0) continue;
    const ratio = d / ch.step;
    if (ratio < c.ratioMin || ratio > c.ratioMax) continue;
    let dot = 0;
    for (let i = 0; i < sketch.length; i++) dot += (sketch[i] - ch.p[i]) * ch.u[i];
    if (Math.abs(dot) / d < c.minAbsCos) continue;
    const err = Math.abs(ratio - 0.5);
    if (err < bestErr) {
      best = k;
      bestErr = err;
      bestStep = d;
    }
  }
  if (best >= 0) {
    const ch = s.chains[best];
    // In place: a chain's arrays belong to it alone.
    for (let i = 0; i < sketch.length; i++) ch.u[i] = compact((sketch[i] - ch.p[i]) / bestStep);
    compactInto(ch.p, sketch);
    ch.step = compact(bestStep);
    ch.steps++;
    if (label !== ch.label) ch.flips++;
    ch.label = label;
    ch.seen = s.seq;
    result = HALVING;
    if (ch.steps > s.longest) s.longest = ch.steps;
    if (!ch.counted && ch.steps >= c.minSteps && ch.flips >= c.minFlips) {
      ch.counted = true;
      addDecayed(s.completed, ts, c.halfLifeMs);
      result = COMPLETED;
    }
  } else if (s.prev && s.prev.length === sketch.length) {
    // A new chain seeded by the last two queries (a line search starts from its two ends).
    const d = l2(sketch, s.prev);
    if (d > 0) {
      const prev = s.prev;
      let oldest = -1;
      if (s.chains.length >= c.maxChains) {
        oldest = 0;
        for (let k = 1; k < s.chains.length; k++) if (s.chains[k].seen < s.chains[oldest].seen) oldest = k;
      }
      // The replaced chain's arrays are reused for the new one (same values as fresh arrays).
      const reuse = oldest >= 0 ? s.chains[oldest] : undefined;
      const u = reuse && reuse.u.length === sketch.length ? reuse.u : new Array<number>(sketch.length);
      for (let i = 0; i < sketch.length; i++) u[i] = compact((sketch[i] - prev[i]) / d);
      const p = compactInto(reuse?.p, sketch);
      const flips = label !== s.prevLabel ? 1 : 0;
      if (reuse) {
        // The replaced chain's object too, reset field by field (it belongs to this key's state alone).
        reuse.p = p;
        reuse.u = u;
        reuse.step = compact(d);
        reuse.steps = 0;
        reuse.flips = flips;
        reuse.label = label;
        reuse.counted = false;
        reuse.seen = s.seq;
      } else {
        s.chains = appended(s.chains, { p, u, step: compact(d), steps: 0, flips, label, counted: false, seen: s.seq });
      }
    }
  }
  s.prev = compactInto(s.prev, sketch);
  s.prevLabel = label;
  return result;
}

/** Completed line searches, decayed to `ts`. */
export function completedSearches(s: BisectionState, ts: number, c: BisectionConfig): number {
  return decayedValue(s.completed, ts, c.halfLifeMs);
}

export function bisectionScore(s: BisectionState, ts: number, c: BisectionConfig): number {
  return Math.min(1, completedSearches(s, ts, c) / c.chainsForFullScore);
}
