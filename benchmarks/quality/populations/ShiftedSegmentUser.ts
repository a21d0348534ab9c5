import type { Rng } from '../Rng.ts';
import type { Standardizer } from '../Standardizer.ts';
import { Client } from '../world/Client.ts';
import type { QueryApi } from '../world/types.ts';
import { BenignActor } from './BenignActor.ts';
import { interactiveHabits, officeSessions } from './OfficeSessions.ts';

/**
 * A covariate-shifted sample of natural records: `size` records drawn
 * without replacement with weights exp(strength · u·z), z a record's
 * standardised features and u a random unit direction (exponential tilting,
 * the standard construction of covariate shift: p_new(x) ∝ w(x)·p(x) with
 * p(y|x) unchanged; Shimodaira 2000, Sugiyama et al. 2007). The records
 * stay real; only which of them a segment sees moves, by about `strength`
 * standard deviations along u for roughly Gaussian data. Weighted sampling
 * without replacement by Efraimidis & Spirakis' keys u^(1/w).
 */
export function shiftedSubset<R extends { raw: readonly number[] }>(records: readonly R[], standardizer: Standardizer, rng: Rng, size: number, strength: number): R[] {
  const dims = records[0]?.raw.length ?? 0;
  const u = Array.from({ length: dims }, () => rng.normal());
  const norm = Math.hypot(...u) || 1;
  const scores = records.map((r) => standardizer.apply(r.raw).reduce((s, v, j) => s + (v * u[j]) / norm, 0));
  const max = Math.max(...scores);
  const keyed = records.map((r, i) => ({ r, k: Math.log(Math.max(rng.next(), 1e-300)) / Math.exp(strength * (scores[i] - max)) }));
  keyed.sort((a, b) => b.k - a.k);
  return keyed.slice(0, Math.min(size, records.length)).map((e) => e.r);
}

/**
 * An honest user of a new customer segment whose data are shifted against
 * the model's usual traffic (a new region, a new kind of customer): the
 * natural sampler it is given holds that segment's records (e.g.
 * `shiftedSubset` of the natural data, or another data set of the same
 * schema). It uses the model like any interactive user: office-hours
 * sessions, think times, re-checking an earlier input now and then (20%).
 */
export class ShiftedSegmentUser extends BenignActor {
  readonly population: string = 'shifted-segment users';

  async run(api: QueryApi): Promise<void> {
    const rng = this.rng;
    const history: number[][] = [];
    const next = () => {
      if (history.length > 0 && rng.bernoulli(0.2)) return rng.pick(history);
      const x = this.standardizer.apply(this.natural.sample(rng));
      history.push(x);
      return x;
    };
    await officeSessions(new Client(api, this.keys[0], this.start), rng, interactiveHabits(rng), this.end, next);
  }
}
