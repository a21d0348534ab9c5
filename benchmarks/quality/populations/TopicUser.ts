import type { NaturalSampler } from '../NaturalSampler.ts';
import type { Rng } from '../Rng.ts';
import type { Standardizer } from '../Standardizer.ts';
import { Client } from '../world/Client.ts';
import type { KeyIdentity, QueryApi } from '../world/types.ts';
import { BenignActor } from './BenignActor.ts';
import { interactiveHabits, officeSessions } from './OfficeSessions.ts';

/**
 * One topic's region of the input space: a record drawn at random and its
 * `size` nearest records (Euclidean, standardised features), so the region
 * is one neighbourhood of the data — often mostly one class.
 */
export function topicRegion<R extends { raw: readonly number[] }>(records: readonly R[], standardizer: Standardizer, rng: Rng, size: number): Set<R> {
  const xs = records.map((r) => standardizer.apply(r.raw));
  const centre = xs[rng.int(0, records.length - 1)];
  const order = xs.map((x, i) => ({ i, d: x.reduce((s, v, j) => s + (v - centre[j]) ** 2, 0) })).sort((a, b) => a.d - b.d || a.i - b.i);
  return new Set(order.slice(0, Math.max(1, Math.min(size, records.length))).map((o) => records[o.i]));
}

/**
 * A person whose work is one topic shared with other people elsewhere (an
 * industry's use case, a product feature backed by the model): several
 * such users, each with their own key, tenant and network, send natural
 * queries from the same region of the input space. Each works in
 * office-hours sessions with think times, re-checking an earlier input now
 * and then (20%), like `InteractiveUser`.
 */
export class TopicUser extends BenignActor {
  readonly population: string = 'topic users';

  constructor(
    id: string,
    key: KeyIdentity,
    natural: NaturalSampler,
    standardizer: Standardizer,
    rng: Rng,
    start: number,
    end: number,
    /** The region shared with the topic's other users (records of `natural`, see `topicRegion`). */
    private readonly region: ReadonlySet<object>,
  ) {
    super(id, key, natural, standardizer, rng, start, end);
    if (region.size === 0) throw new RangeError(`${id}: a topic user needs a non-empty region`);
  }

  async run(api: QueryApi): Promise<void> {
    const rng = this.rng;
    const history: number[][] = [];
    const next = () => {
      if (history.length > 0 && rng.bernoulli(0.2)) return rng.pick(history);
      const x = this.standardizer.apply(this.natural.sample(rng, (r) => this.region.has(r)));
      history.push(x);
      return x;
    };
    await officeSessions(new Client(api, this.keys[0], this.start), rng, interactiveHabits(rng), this.end, next);
  }
}
