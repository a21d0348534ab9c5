import type { Rng } from '../Rng.ts';

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Monday 2024-03-04 00:00 UTC: simulated event time starts on a working week. */
export const SIM_EPOCH = Date.UTC(2024, 2, 4);

/** Times of `n` calls from a scripted client at about `perMinute`, each gap jittered ±30%. */
export function scriptedTimes(rng: Rng, start: number, n: number, perMinute: number): number[] {
  const gap = MINUTE / perMinute;
  const out = new Array<number>(n);
  let t = start;
  for (let i = 0; i < n; i++) {
    out[i] = Math.round(t);
    t += gap * rng.uniform(0.7, 1.3);
  }
  return out;
}

/** Times of `n` calls of a Poisson process with `perHour` mean rate. */
export function poissonTimes(rng: Rng, start: number, n: number, perHour: number): number[] {
  const out = new Array<number>(n);
  let t = start;
  for (let i = 0; i < n; i++) {
    t += rng.exponential(HOUR / perHour);
    out[i] = Math.round(t);
  }
  return out;
}

/** Day index (0 = SIM_EPOCH's day) and hour of day of an event time. */
export function dayOf(ts: number): number {
  return Math.floor((ts - SIM_EPOCH) / DAY);
}

export function isWeekday(ts: number): boolean {
  const d = new Date(ts).getUTCDay();
  return d !== 0 && d !== 6;
}

/**
 * The earliest time at or after `ts` that falls in working hours
 * [startHour, endHour) on a weekday.
 */
export function nextWorkingTime(ts: number, startHour: number, endHour: number): number {
  let t = ts;
  for (let guard = 0; guard < 14; guard++) {
    const midnight = Math.floor(t / DAY) * DAY;
    const open = midnight + startHour * HOUR;
    const close = midnight + endHour * HOUR;
    if (isWeekday(t)) {
      if (t < open) return open;
      if (t < close) return t;
    }
    t = midnight + DAY;
  }
  throw new RangeError('no working time within two weeks');
}
