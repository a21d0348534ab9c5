import { compact } from './math.ts';
import { DOUBLE_ZERO } from '../../src/state/doubleZero.ts';

/** A count that halves every `halfLifeMs` of event time. Two numbers of JSON. */
export interface DecayedCount {
  v: number;
  t: number;
}

export function createDecayedCount(): DecayedCount {
  return { v: DOUBLE_ZERO, t: DOUBLE_ZERO };
}

export function decayedValue(c: DecayedCount, ts: number, halfLifeMs: number): number {
  if (c.v === 0) return 0;
  return c.v * Math.pow(2, -Math.max(0, ts - c.t) / halfLifeMs);
}

export function addDecayed(c: DecayedCount, ts: number, halfLifeMs: number, n = 1): number {
  const now = Math.max(ts, c.t);
  c.v = compact(decayedValue(c, now, halfLifeMs) + n);
  c.t = now;
  return c.v;
}
