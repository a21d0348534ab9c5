import type { Answer, QueryApi } from '../world/types.ts';
import { type Attack, type AttackSetup, attackerKey } from './Attack.ts';
import { jacobianSigns } from './PapernotJacobian.ts';
import { PatientClient } from './PatientClient.ts';
import { RawSpace } from './RawSpace.ts';
import { trainSurrogate } from './Surrogate.ts';

/**
 * Papernot et al., "Practical Black-Box Attacks against Machine Learning"
 * (AsiaCCS 2017), Algorithm 1, run as a client of a tabular API would: the
 * augmentation steps in RAW feature space, the values the client sends.
 * S₀ is 50 of the attacker's natural records (the paper's 150-sample seed
 * scaled to a tabular model), labelled by the API (top-1 only); then
 * S_{ρ+1} = S_ρ ∪ {x + λ_ρ·sgn(J_F(x)[O(x)]) : x ∈ S_ρ} with λ = 0.1 of
 * each feature's documented range (the paper's λ = 0.1 on inputs scaled to
 * [0, 1]), rounded to the feature's measurement resolution (at least one
 * unit) and kept in range, and the periodic step λ_ρ = λ·(−1)^⌊ρ/τ⌋ with
 * τ = 3 (§6.1). The substitute's gradient is taken in the standardised
 * space the model reads; standardising is a positive per-feature scaling,
 * so its signs are the raw gradient's. When a round would exceed the
 * budget a random subset of the new points is queried (reservoir
 * sampling, §6.2).
 */
export class PapernotRawSpace implements Attack {
  readonly kind = 'attack';
  readonly uses = 'labels';
  readonly algorithm = 'Papernot et al. 2017 Jacobian-based augmentation from 50 natural seeds, stepping in raw feature space, labels only';
  readonly pace: string;
  readonly keys;
  /** The natural seed set S₀: the first augmented query comes after it. */
  readonly graceCalls: number;

  constructor(
    private readonly setup: AttackSetup,
    readonly id = 'papernot-raw',
    readonly population = 'Papernot JbDA (raw space)',
    private readonly seeds = 50,
    private readonly perMinute = 90,
    private readonly lambda = 0.1,
    private readonly tau = 3,
    ip = '198.18.10.10',
  ) {
    this.keys = [attackerKey(id, ip)];
    this.graceCalls = Math.min(seeds, setup.world.attackerSeed.length, setup.budget);
    this.pace = `${perMinute}/min scripted, one burst per round`;
  }

  async run(api: QueryApi): Promise<void> {
    const { rng, world, budget, start, surrogate } = this.setup;
    const space = new RawSpace(world);
    const client = new PatientClient(api, this.keys[0], start);
    const classes = world.classes.length;
    const step = space.range.map((r, j) => Math.max(space.resolution[j], this.lambda * r));
    let raws = rng.shuffled(world.attackerSeed).slice(0, Math.min(this.seeds, budget)).map((r) => space.snap(r.raw));
    let xs = raws.map((r) => space.toModel(r));
    let answers: Answer[] = await client.scripted(xs, this.perMinute, rng);
    for (let rho = 0; xs.length < budget; rho++) {
      const substitute = trainSurrogate(xs, answers, this.uses, classes, surrogate.hidden, surrogate.innerPasses, rng.int(0, 2 ** 30));
      const sign = Math.floor(rho / this.tau) % 2 === 0 ? 1 : -1;
      const signs = jacobianSigns(substitute, xs, answers.map((a) => a.label), classes);
      substitute.dispose();
      let fresh = raws.map((raw, i) => space.snap(raw.map((v, j) => v + sign * step[j] * signs[i][j])));
      if (xs.length + fresh.length > budget) fresh = rng.shuffled(fresh).slice(0, budget - xs.length);
      client.idle(rng.uniform(20_000, 60_000)); // the substitute trains between rounds
      const freshX = fresh.map((r) => space.toModel(r));
      const got = await client.scripted(freshX, this.perMinute, rng);
      raws = raws.concat(fresh);
      xs = xs.concat(freshX);
      answers = answers.concat(got);
    }
  }
}
