import { Client } from '../world/Client.ts';
import { DAY, HOUR } from '../world/Schedule.ts';
import type { QueryApi } from '../world/types.ts';
import { BenignActor } from './BenignActor.ts';

/**
 * A CI job guarding a downstream product: every day at the same hour it
 * replays one fixed test set of real records (150–300), in the same order,
 * at a scripted pace under the limit, and compares the answers.
 */
export class RegressionTester extends BenignActor {
  readonly population = 'regression testers';

  async run(api: QueryApi): Promise<void> {
    const rng = this.rng;
    const size = rng.int(150, 300);
    const testSet = rng.shuffled(this.natural.records).slice(0, size).map((r) => this.standardizer.apply(this.natural.round(r.raw)));
    const perMinute = rng.uniform(60, 90);
    const hour = rng.uniform(4, 8);
    const client = new Client(api, this.keys[0], this.start);
    for (let day = this.start; day + hour * HOUR < this.end; day += DAY) {
      client.t = Math.max(client.t, day + hour * HOUR);
      await client.scripted(testSet, perMinute, rng);
    }
  }
}
