import { Client } from '../world/Client.ts';
import { MINUTE, scriptedTimes } from '../world/Schedule.ts';
import type { KeyIdentity, QueryApi } from '../world/types.ts';
import { type Attack, type AttackSetup, attackerKey, uniformInBox } from './Attack.ts';

/**
 * A Sybil campaign: the Tramèr et al. 2016 random-query attack split over
 * many free-tier keys (one tenant each) from addresses in one /24, every key
 * running in parallel at a modest scripted pace, so each key alone stays
 * small. One surrogate is trained on the union of the answers.
 */
export class SybilSpread implements Attack {
  readonly kind = 'attack';
  readonly uses = 'probabilities';
  readonly algorithm = 'Tramèr et al. 2016 random queries split over many keys in one /24, probabilities';
  readonly pace: string;
  readonly keys: KeyIdentity[];

  constructor(
    private readonly setup: AttackSetup,
    keyCount: number,
    private readonly perMinute = 30,
    readonly id = 'sybil',
    readonly population = 'Sybil (one /24)',
  ) {
    this.keys = Array.from({ length: keyCount }, (_, i) => attackerKey(`sybil-${String(i).padStart(2, '0')}`, `198.19.7.${10 + i}`));
    this.pace = `${keyCount} keys × ${perMinute}/min in parallel`;
  }

  async run(api: QueryApi): Promise<void> {
    const { rng, world, budget, start } = this.setup;
    const per = Math.floor(budget / this.keys.length);
    // Every key's calls on its own schedule, merged in time order.
    const calls = this.keys.flatMap((key, k) => {
      const begin = start + rng.uniform(0, 10 * MINUTE);
      return scriptedTimes(rng, begin, per + (k < budget % this.keys.length ? 1 : 0), this.perMinute).map((ts) => ({ key, ts, x: uniformInBox(rng, world.box) }));
    });
    calls.sort((a, b) => a.ts - b.ts || a.key.apiKey.localeCompare(b.key.apiKey));
    const clients = new Map(this.keys.map((k) => [k.apiKey, new Client(api, k, start)]));
    // One request per run of consecutive calls from the same key (the world takes one key per request).
    for (let i = 0; i < calls.length; ) {
      let j = i + 1;
      while (j < calls.length && calls[j].key === calls[i].key) j++;
      const run = calls.slice(i, j);
      await clients.get(calls[i].key.apiKey)!.at(run.map((c) => c.x), run.map((c) => c.ts));
      i = j;
    }
  }
}
