import type { Actor, QueryApi } from '../../../benchmarks/quality/world/types.ts';

/** One call an actor made, as it sent it. */
export interface SentCall {
  key: string;
  ts: number;
  x: number[];
}

/** Wraps an actor so that every call it sends (benign actors included) is kept, in order. */
export function recorded(actor: Actor): { actor: Actor; calls: SentCall[] } {
  const calls: SentCall[] = [];
  const wrapped: Actor = {
    id: actor.id,
    population: actor.population,
    kind: actor.kind,
    keys: actor.keys,
    run: (api: QueryApi) =>
      actor.run({
        query(key, xs, times) {
          xs.forEach((x, i) => calls.push({ key: key.apiKey, ts: times[i], x: x as number[] }));
          return api.query(key, xs, times);
        },
      }),
  };
  return { actor: wrapped, calls };
}

/** Squared Euclidean distance. */
export function dist2(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j] - b[j]) ** 2;
  return s;
}

/** Index of the row of `rows` nearest to `x`. */
export function nearest(rows: readonly (readonly number[])[], x: readonly number[]): number {
  let best = 0;
  let bestD = Infinity;
  rows.forEach((r, i) => {
    const d = dist2(r, x);
    if (d < bestD) [best, bestD] = [i, d];
  });
  return best;
}

/** Hour of day (UTC, fractional) and weekday flag of an event time. */
export function clock(ts: number): { hour: number; weekday: boolean } {
  const d = new Date(ts);
  return { hour: d.getUTCHours() + d.getUTCMinutes() / 60 + d.getUTCSeconds() / 3600, weekday: d.getUTCDay() !== 0 && d.getUTCDay() !== 6 };
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
