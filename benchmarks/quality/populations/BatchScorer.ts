import type { NaturalSampler } from '../NaturalSampler.ts';
import type { Rng } from '../Rng.ts';
import type { Standardizer } from '../Standardizer.ts';
import { Client } from '../world/Client.ts';
import { DAY, HOUR, MINUTE } from '../world/Schedule.ts';
import type { KeyIdentity, QueryApi } from '../world/types.ts';
import { BenignActor } from './BenignActor.ts';

/**
 * A heavy legitimate customer: a nightly job scores a day's worth of natural
 * records (4,000–4,900) as fast as the per-minute limit allows (80–95
 * calls/min), close to the usual gateway limits of ~100/min and ~5,000/day.
 */
export class BatchScorer extends BenignActor {
  readonly population = 'batch scorers';

  constructor(
    id: string,
    key: KeyIdentity,
    natural: NaturalSampler,
    standardizer: Standardizer,
    rng: Rng,
    start: number,
    end: number,
    private readonly perDay: readonly [number, number] = [4000, 4900],
  ) {
    super(id, key, natural, standardizer, rng, start, end);
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
