import type { NaturalSampler } from '../NaturalSampler.ts';
import type { Rng } from '../Rng.ts';
import type { Standardizer } from '../Standardizer.ts';
import { Client } from '../world/Client.ts';
import { DAY, HOUR, MINUTE } from '../world/Schedule.ts';
import type { Actor, KeyIdentity, QueryApi } from '../world/types.ts';

/**
 * A heavy legitimate customer: a nightly job scores a day's worth of natural
 * records (4,000–4,900) as fast as the per-minute limit allows (80–95
 * calls/min), close to the usual gateway limits of ~100/min and ~5,000/day.
 */
export class BatchScorer implements Actor {
  readonly kind = 'benign';
  readonly population = 'batch scorers';
  readonly keys: KeyIdentity[];

  constructor(
    readonly id: string,
    key: KeyIdentity,
    private readonly natural: NaturalSampler,
    private readonly standardizer: Standardizer,
    private readonly rng: Rng,
    private readonly start: number,
    private readonly end: number,
    private readonly perDay: readonly [number, number] = [4000, 4900],
  ) {
    this.keys = [key];
  }

  async run(api: QueryApi): Promise<void> {
    const rng = this.rng;
    const perMinute = rng.uniform(80, 95);
    const hour = rng.uniform(0.5, 3);
    const client = new Client(api, this.keys[0], this.start);
    for (let day = this.start; day < this.end; day += DAY) {
      const jobStart = day + hour * HOUR + rng.uniform(0, 20 * MINUTE);
      if (jobStart >= this.end) break;
      client.t = Math.max(client.t, jobStart);
      let left = rng.int(this.perDay[0], this.perDay[1]);
      while (left > 0) {
        const n = Math.min(200, left);
        const xs = Array.from({ length: n }, () => this.standardizer.apply(this.natural.sample(rng)));
        await client.scripted(xs, perMinute, rng);
        left -= n;
      }
    }
  }
}
