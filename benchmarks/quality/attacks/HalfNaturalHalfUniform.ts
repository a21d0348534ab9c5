import { NaturalSampler } from '../NaturalSampler.ts';
import type { QueryApi } from '../world/types.ts';
import { type Attack, type AttackSetup, attackerKey, clipToBox, standardize, uniformInBox } from './Attack.ts';
import { PatientClient } from './PatientClient.ts';

/**
 * The Tramèr et al. 2016 random-query attack (§4.1, uniform queries over
 * the documented ranges) with half of its budget spent on natural records,
 * strictly alternating: natural, random, natural, random… The natural half
 * comes from the attacker's own real records (smoothed bootstrap beyond the
 * table), so half of the key's traffic is indistinguishable from a user's
 * and every statistic over the key is diluted by half. Unlike
 * `InterleavedNatural` (cover traffic on top of the budget, geometric runs),
 * the budget counts every call and the mix is exactly 1:1. The surrogate
 * learns from every answer.
 */
export class HalfNaturalHalfUniform implements Attack {
  readonly kind = 'attack';
  readonly uses = 'probabilities';
  readonly algorithm = 'Tramèr et al. 2016 uniform random queries alternating 1:1 with natural records, probabilities';
  readonly pace: string;
  readonly keys;

  constructor(
    private readonly setup: AttackSetup,
    private readonly perMinute = 40,
    readonly id = 'half-natural',
    readonly population = 'half natural, half uniform',
    ip = '198.18.9.10',
  ) {
    this.keys = [attackerKey(id, ip)];
    this.pace = `${perMinute}/min scripted, natural and uniform alternating`;
  }

  async run(api: QueryApi): Promise<void> {
    const { rng, world, budget, start } = this.setup;
    const client = new PatientClient(api, this.keys[0], start);
    const natural = new NaturalSampler(world.attackerSeed, world);
    const naturalFirst = rng.bernoulli(0.5);
    const xs = Array.from({ length: budget }, (_, i) => ((i % 2 === 0) === naturalFirst ? clipToBox(standardize(world, natural.sample(rng)), world.box) : uniformInBox(rng, world.box)));
    for (let i = 0; i < xs.length; i += 100) await client.scripted(xs.slice(i, i + 100), this.perMinute, rng);
  }
}
