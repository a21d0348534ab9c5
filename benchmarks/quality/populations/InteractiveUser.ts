import { Client } from '../world/Client.ts';
import { HOUR, SECOND, nextWorkingTime } from '../world/Schedule.ts';
import type { QueryApi } from '../world/types.ts';
import { BenignActor } from './BenignActor.ts';

/**
 * A person using an app backed by the model during office hours: a few
 * sessions a day (Poisson arrivals within working hours), each a handful of
 * calls separated by think times, about one of the user's topics (for weather
 * a time of year they care about, elsewhere a neighbourhood of the data), with exact repeats of earlier inputs now and then.
 */
export class InteractiveUser extends BenignActor {
  readonly population: string = 'interactive users';

  async run(api: QueryApi): Promise<void> {
    const rng = this.rng;
    const open = rng.uniform(7, 10);
    const close = open + rng.uniform(7, 9);
    const sessionsPerDay = rng.uniform(2, 6);
    const sessionGap = ((close - open) * HOUR) / sessionsPerDay;
    const topics = Array.from({ length: rng.int(1, 3) }, () => this.natural.topic(rng));
    const history: number[][] = [];
    const client = new Client(api, this.keys[0], nextWorkingTime(this.start + rng.exponential(sessionGap), open, close));
    while (client.t < this.end) {
      const topic = rng.pick(topics);
      const length = Math.min(40, Math.max(1, Math.round(rng.logNormal(6, 0.6))));
      for (let q = 0; q < length; q++) {
        const think = q === 0 ? 0 : rng.logNormal(20 * SECOND, 0.8);
        let x: number[];
        if (history.length > 0 && rng.bernoulli(0.2)) x = rng.pick(history);
        else {
          x = this.standardizer.apply(this.natural.sample(rng, topic));
          history.push(x);
        }
        await client.one(x, think);
      }
      client.t = nextWorkingTime(client.t + rng.exponential(sessionGap), open, close);
    }
  }
}
