import { PatientClient } from './PatientClient.ts';
import type { QueryApi } from '../world/types.ts';
import { type Attack, type AttackSetup, attackerKey, uniformInBox } from './Attack.ts';

/**
 * Tramèr et al., "Stealing Machine Learning Models via Prediction APIs"
 * (USENIX Security 2016), §4.1: equation-solving attacks. Each answer with
 * confidence values is one equation in the model's parameters; for
 * non-linear models (§4.1.2, multilayer perceptrons) the system is solved by
 * minimising the loss between the surrogate's and the API's probability
 * vectors. Queries are drawn uniformly at random from the feature ranges
 * the API documents, sent by a script at a steady pace.
 */
export class TramerEquationSolving implements Attack {
  readonly kind = 'attack';
  readonly uses = 'probabilities';
  readonly algorithm = 'Tramèr et al. 2016 §4.1 equation-solving, uniform random queries, probabilities';
  readonly pace: string;
  readonly keys;

  constructor(
    private readonly setup: AttackSetup,
    readonly id = 'tramer',
    readonly population = 'Tramèr equation-solving',
    private readonly perMinute = 60,
    ip = '198.18.1.10',
  ) {
    this.keys = [attackerKey(id, ip)];
    this.pace = `${perMinute}/min scripted`;
  }

  async run(api: QueryApi): Promise<void> {
    const { rng, world, budget, start } = this.setup;
    const client = new PatientClient(api, this.keys[0], start);
    const xs = Array.from({ length: budget }, () => uniformInBox(rng, world.box));
    for (let i = 0; i < xs.length; i += 100) await client.scripted(xs.slice(i, i + 100), this.perMinute, rng);
  }
}
