import type { Rng } from '../Rng.ts';
import { poissonTimes, scriptedTimes } from './Schedule.ts';
import type { Answer, KeyIdentity, QueryApi } from './types.ts';

/** One key's HTTP client with its own clock: the next call cannot be earlier than the last answer. */
export class Client {
  /** Event time of the next call at the earliest. */
  t: number;

  constructor(
    private readonly api: QueryApi,
    readonly key: KeyIdentity,
    start: number,
  ) {
    this.t = start;
  }

  /** Calls at explicit times (each ≥ `t`). */
  async at(xs: readonly number[][], times: readonly number[]): Promise<Answer[]> {
    if (xs.length === 0) return [];
    const answers = await this.api.query(this.key, xs, times);
    this.t = Math.max(this.t, times[times.length - 1]);
    return answers;
  }

  /** Calls at a scripted client's pace (about `perMinute`, each gap jittered). */
  async scripted(xs: readonly number[][], perMinute: number, rng: Rng): Promise<Answer[]> {
    if (xs.length === 0) return [];
    const times = scriptedTimes(rng, this.t, xs.length + 1, perMinute);
    const answers = await this.at(xs, times.slice(0, xs.length));
    this.t = times[xs.length];
    return answers;
  }

  /** Calls as a Poisson process at `perHour`. */
  async poisson(xs: readonly number[][], perHour: number, rng: Rng): Promise<Answer[]> {
    return this.at(xs, poissonTimes(rng, this.t, xs.length, perHour));
  }

  /** Waits (in event time). */
  idle(ms: number): void {
    this.t += ms;
  }

  /** One call after a think time (interactive use). */
  async one(x: number[], thinkMs: number): Promise<Answer> {
    this.t += thinkMs;
    const [a] = await this.at([x], [Math.round(this.t)]);
    return a;
  }
}

