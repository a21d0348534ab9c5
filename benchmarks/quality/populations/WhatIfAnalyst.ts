import type { NaturalSampler } from '../NaturalSampler.ts';
import { Client } from '../world/Client.ts';
import { HOUR, SECOND, nextWorkingTime } from '../world/Schedule.ts';
import type { QueryApi } from '../world/types.ts';
import { BenignActor } from './BenignActor.ts';

/** The 5th and 95th percentile of each raw feature over the records. */
export function featureRanges(natural: NaturalSampler): [number, number][] {
  return Array.from({ length: natural.dim }, (_, j) => {
    const v = natural.records.map((r) => r.raw[j]).sort((a, b) => a - b);
    return [v[Math.floor(0.05 * (v.length - 1))], v[Math.ceil(0.95 * (v.length - 1))]];
  });
}

/**
 * An analyst asking "what if": takes a real record and sweeps one feature
 * across its realistic range (5th–95th percentile) in 20–40 even steps, a
 * few seconds apart, sometimes following with a sweep of another feature
 * on the same record. One to three such sessions a working day.
 */
export class WhatIfAnalyst extends BenignActor {
  readonly population = 'what-if analysts';

  async run(api: QueryApi): Promise<void> {
    const rng = this.rng;
    const ranges = featureRanges(this.natural);
    const resolution = this.natural.resolution;
    const d = ranges.length;
    const open = rng.uniform(8, 10);
    const close = open + 8;
    const sessionGap = ((close - open) * HOUR) / rng.uniform(1, 3);
    const client = new Client(api, this.keys[0], nextWorkingTime(this.start + rng.exponential(sessionGap), open, close));
    while (client.t < this.end) {
      const record = this.natural.record(rng).raw;
      let feature = rng.int(0, d - 1);
      do {
        const [lo, hi] = ranges[feature];
        const steps = rng.int(20, 40);
        for (let s = 0; s < steps; s++) {
          const raw = record.slice();
          const v = lo + ((hi - lo) * s) / (steps - 1);
          raw[feature] = Math.round(v / resolution[feature]) * resolution[feature];
          await client.one(this.standardizer.apply(raw), rng.uniform(2 * SECOND, 10 * SECOND));
        }
        feature = (feature + rng.int(1, d - 1)) % d;
        client.idle(rng.uniform(30 * SECOND, 300 * SECOND));
      } while (rng.bernoulli(0.3));
      client.t = nextWorkingTime(client.t + rng.exponential(sessionGap), open, close);
    }
  }
}
