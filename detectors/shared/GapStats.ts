import { compact } from './math.ts';

/**
 * Exponentially weighted mean and variance of a key's inter-arrival gaps
 * (event time), for their coefficient of variation: scripts are metronomic
 * (CV near 0) while people are bursty (CV ≥ 1; Barabási, "The origin of
 * bursts and heavy tails in human dynamics", Nature 2005). Four numbers.
 */
export interface GapStats {
  n: number;
  mean: number;
  variance: number;
  lastTs: number;
}

export function createGapStats(): GapStats {
  return { n: 0, mean: 0, variance: 0, lastTs: -1 };
}

export function addArrival(g: GapStats, ts: number, window: number): void {
  if (g.lastTs >= 0) {
    const gap = Math.max(0, ts - g.lastTs);
    g.n++;
    const a = 1 / Math.min(g.n, window);
    const d = gap - g.mean;
    g.mean = compact(g.mean + a * d);
    g.variance = compact((1 - a) * (g.variance + a * d * d));
  }
  g.lastTs = Math.max(ts, g.lastTs);
}

/** Coefficient of variation of the gaps (Infinity with no mean gap yet). */
export function gapCv(g: GapStats): number {
  return g.mean > 0 ? Math.sqrt(g.variance) / g.mean : Infinity;
}

/**
 * The CV raised by `z` standard errors of its estimate over the gaps seen (at most `window` of them count):
 * what the key's pacing is at most, as surely as `z` says. The standard error is McKay's approximation for
 * a sample CV, cv·√((½ + cv²)/n): a few gaps of a metronomic script already bound its CV low, while a
 * person's few gaps leave theirs wide open.
 */
export function gapCvUpper(g: GapStats, window: number, z: number): number {
  const cv = gapCv(g);
  const n = Math.min(g.n, window);
  return n > 0 ? cv + z * cv * Math.sqrt((0.5 + cv * cv) / n) : Infinity;
}
