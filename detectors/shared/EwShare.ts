import { compact, shareZ } from './math.ts';
import { DOUBLE_ZERO } from '../../src/state/doubleZero.ts';

/**
 * The share of a key's recent events that had some property, as an
 * exponentially weighted mean over an effective window of `window` events
 * (the plain running mean until then), together with the expected share
 * under the baseline averaged the same way. Four numbers of JSON.
 */
export interface EwShare {
  /** Events counted (saturates at 1e9). */
  n: number;
  /** Observed share. */
  s: number;
  /** Expected share under the baseline, averaged over the same events. */
  e: number;
}

export function createShare(): EwShare {
  return { n: 0, s: DOUBLE_ZERO, e: DOUBLE_ZERO };
}

export function addToShare(sh: EwShare, hit: boolean, expected: number, window: number): void {
  sh.n = Math.min(sh.n + 1, 1e9);
  const a = 1 / Math.min(sh.n, window);
  sh.s = compact(sh.s + a * ((hit ? 1 : 0) - sh.s));
  sh.e = compact(sh.e + a * (expected - sh.e));
}

/**
 * Effective number of independent events behind the share: n while the mean
 * is plain, then 2W − 1 (the variance of an EWMA with weight 1/W of Bernoulli
 * draws is p(1 − p)/(2W − 1)).
 */
export function effectiveCount(sh: EwShare, window: number): number {
  return sh.n < window ? sh.n : 2 * window - 1;
}

/** One-sided z-score of the observed share against the expected one. */
export function shareExcessZ(sh: EwShare, window: number): number {
  return shareZ(sh.s, sh.e, effectiveCount(sh, window));
}

/** Excess of the observed share over the expected one, as a share of the room above it: (s − e)/(1 − e). */
export function shareExcess(sh: EwShare): number {
  return (sh.s - sh.e) / Math.max(1 - sh.e, 1e-6);
}

/**
 * The excess (as `shareExcess`) that the key surely has: the observed share replaced by the lower end of
 * its Wilson score interval at `z` standard errors (Wilson 1927) over the effective count. For a handful
 * of events it stays well below the point estimate unless nearly every event had the property.
 */
export function shareExcessLowerBound(sh: EwShare, window: number, z: number): number {
  const n = effectiveCount(sh, window);
  if (n <= 0) return 0;
  const z2 = (z * z) / n;
  const centre = (sh.s + z2 / 2) / (1 + z2);
  const half = (z * Math.sqrt((sh.s * (1 - sh.s)) / n + z2 / (4 * n))) / (1 + z2);
  return (Math.max(0, centre - half) - sh.e) / Math.max(1 - sh.e, 1e-6);
}
