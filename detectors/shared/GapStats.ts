import { z } from 'zod';
import { compact, fmt, ramp } from './math.ts';
import { DOUBLE_ZERO } from '../../src/state/doubleZero.ts';

/**
 * Exponentially weighted moments of a key's inter-arrival gaps (event
 * time): scripts are metronomic while people are bursty (Barabási, "The
 * origin of bursts and heavy tails in human dynamics", Nature 2005).
 *
 * Pacing is judged on the logarithm of the gaps, not on the gaps, and each
 * log-gap's deviation is clipped: a script that works in rounds (label a
 * batch, retrain, pause, query again) or waits out a rate limit now and then
 * is still metronomic between its pauses, and a handful of long pauses
 * dominate the gaps' own variance (their CV) while they move the clipped
 * spread of the log-gaps by little. People's think times are
 * spread on a log scale (log-normal: Barabási; exponential at the least, a
 * log-spread of π/√6 ≈ 1.28). The arithmetic mean is kept for the evidence.
 * Six numbers.
 */
export interface GapStats {
  n: number;
  mean: number;
  variance: number;
  lastTs: number;
  /**
   * Mean and variance of ln(gap + `GAP_FLOOR_MS`). Absent in snapshots of older versions: taken then from the
   * plain moments as a log-normal's with that mean and CV, and updated from the next gap on.
   */
  logMean?: number;
  logVariance?: number;
}

/**
 * Added to every gap before its logarithm: gaps shorter than network and clock jitter carry no pacing,
 * and two calls in the same millisecond must not weigh as an infinitely long log-distance.
 */
const GAP_FLOOR_MS = 100;

/**
 * A log-gap's deviation from the mean counts up to `CLIP_SPREADS` times the current log spread, and never
 * less than that many times `MIN_CLIP_SPREAD`: clipped at 0.75 or more, deviations alone can lift the spread
 * to 0.75 (a log-normal CV of 0.86, a person's), so a person whose first gaps happened to be alike is not
 * held a metronome, while a script's pause between rounds adds a clipped step, not its whole length.
 */
const CLIP_SPREADS = 3;
const MIN_CLIP_SPREAD = 0.25;

export function createGapStats(): GapStats {
  return { n: 0, mean: DOUBLE_ZERO, variance: DOUBLE_ZERO, lastTs: -1 + DOUBLE_ZERO, logMean: DOUBLE_ZERO, logVariance: DOUBLE_ZERO };
}

export function addArrival(g: GapStats, ts: number, window: number): void {
  if (g.lastTs >= 0) {
    const gap = Math.max(0, ts - g.lastTs);
    g.n++;
    const a = 1 / Math.min(g.n, window);
    const d = gap - g.mean;
    g.mean = compact(g.mean + a * d);
    g.variance = compact((1 - a) * (g.variance + a * d * d));
    if (g.logMean === undefined || g.logVariance === undefined) {
      const cv2 = g.n > 1 && g.mean > 0 ? g.variance / (g.mean * g.mean) : 0;
      g.logVariance = compact(Math.log1p(cv2));
      g.logMean = compact(Math.log(g.mean + GAP_FLOOR_MS) - g.logVariance / 2);
    } else {
      // Huber-clipped after the first gap (an M-estimator's update): a rare long pause moves a script's log moments by one clipped step.
      const clip = g.n === 1 ? Infinity : CLIP_SPREADS * Math.max(Math.sqrt(g.logVariance), MIN_CLIP_SPREAD);
      const dl = Math.min(clip, Math.max(-clip, Math.log(gap + GAP_FLOOR_MS) - g.logMean));
      g.logMean = compact(g.logMean + a * dl);
      g.logVariance = compact((1 - a) * (g.logVariance + a * dl * dl));
    }
  }
  g.lastTs = Math.max(ts, g.lastTs);
}

/**
 * The gaps' coefficient of variation, read from the spread σ of their logarithms as a log-normal's,
 * √(e^σ² − 1) (Infinity with no gap yet): the same scale as a plain CV for steady pacing, robust to
 * the rare long pause.
 */
export function gapCv(g: GapStats): number {
  return g.n > 0 && g.logVariance !== undefined ? logNormalCv(Math.sqrt(g.logVariance)) : Infinity;
}

/**
 * The CV with the log-spread raised by `z` standard errors of its estimate over the gaps seen (at most
 * `window` of them count): what the key's pacing is at most, as surely as `z` says. The standard error
 * of a sample standard deviation is σ/√(2n) (normal log-gaps): a few gaps of a metronomic script already
 * bound its spread low, while a person's few gaps leave theirs wide open.
 */
export function gapCvUpper(g: GapStats, window: number, z: number): number {
  const n = Math.min(g.n, window);
  if (!(n > 0) || g.logVariance === undefined) return Infinity;
  const sigma = Math.sqrt(g.logVariance);
  return logNormalCv(sigma * (1 + z / Math.sqrt(2 * n)));
}

/** The typical gap (the geometric mean, a log-normal's median) in milliseconds, NaN with none yet. */
export function typicalGapMs(g: GapStats): number {
  return g.n > 0 && g.logMean !== undefined ? Math.max(0, Math.exp(g.logMean) - GAP_FLOOR_MS) : NaN;
}

function logNormalCv(sigma: number): number {
  return Math.sqrt(Math.expm1(sigma * sigma));
}

/**
 * Config fields of a pacing test, spread into a detector's `automated` object: the gaps' EWMA window, how
 * many gaps count before the test does, how many standard errors the CV is raised by before it is judged
 * (0: its estimate as it is), and the CVs of a metronome (full weight) and of a person (none).
 */
export const pacingFields = {
  gapWindow: z.number().int().positive().default(64),
  minGaps: z.number().int().positive().default(16),
  paceZ: z.number().min(0).default(2),
  cvMetronomic: z.number().min(0).default(0.15),
  cvHuman: z.number().min(0).default(0.6),
};

export interface PacingConfig {
  gapWindow: number;
  minGaps: number;
  paceZ: number;
  cvMetronomic: number;
  cvHuman: number;
}

/** How evidence names the pacing that made a statistic count as a signature, with the gaps' CV then. */
export function machinePacedNote(cv: number): string {
  return `from machine-paced calls (inter-arrival CV ${fmt(cv)}, from the gaps' log spread)`;
}

/** 1 for surely metronomic calls, 0 for human ones or too few gaps (`cvMetronomic` … `cvHuman`, at the CV's upper bound). */
export function pacingWeight(g: GapStats | undefined, c: PacingConfig): number {
  if (!g || g.n < c.minGaps) return 0;
  return 1 - ramp(gapCvUpper(g, c.gapWindow, c.paceZ), c.cvMetronomic, c.cvHuman);
}
