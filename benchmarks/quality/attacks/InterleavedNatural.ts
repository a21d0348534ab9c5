import { NaturalSampler } from '../NaturalSampler.ts';
import { PatientClient } from './PatientClient.ts';
import type { QueryApi } from '../world/types.ts';
import { type Attack, type AttackSetup, attackerKey, standardize, uniformInBox } from './Attack.ts';

/**
 * The Tramèr et al. 2016 random-query attack hidden among natural queries:
 * before each attack query the script sends a geometric number (mean
 * `naturalPerAttack`) of natural inputs drawn around the attacker's own real
 * Seattle rows, so its traffic mixes benign-looking inputs with the probe. The budget
 * counts attack queries; the cover traffic comes on top. The surrogate uses
 * every answer.
 */
export class InterleavedNatural implements Attack {
  readonly kind = 'attack';
  readonly uses = 'probabilities';
  readonly algorithm = 'Tramèr et al. 2016 random queries interleaved with natural inputs (1:1 on average), probabilities';
  readonly pace: string;
  readonly keys;

  constructor(
    private readonly setup: AttackSetup,
    private readonly perMinute = 40,
    private readonly naturalPerAttack = 1,
    readonly id = 'interleaved',
    readonly population = 'interleaved with natural',
  ) {
    this.keys = [attackerKey(id, '198.18.8.10')];
    this.pace = `${perMinute}/min scripted, ${naturalPerAttack} natural per probe`;
  }

  async run(api: QueryApi): Promise<void> {
    const { rng, world, budget, start } = this.setup;
    const client = new PatientClient(api, this.keys[0], start);
    const natural = new NaturalSampler(world.attackerSeed, world);
    const xs: number[][] = [];
    for (let i = 0; i < budget; i++) {
      const p = this.naturalPerAttack / (1 + this.naturalPerAttack);
      while (rng.bernoulli(p)) xs.push(standardize(world, natural.sample(rng)));
      xs.push(uniformInBox(rng, world.box));
    }
    for (let i = 0; i < xs.length; i += 100) await client.scripted(xs.slice(i, i + 100), this.perMinute, rng);
  }
}
