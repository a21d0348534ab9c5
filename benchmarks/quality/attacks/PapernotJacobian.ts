import * as tf from '@tensorflow/tfjs';
import { oneHot, useCpuBackend } from '../Classifier.ts';
import { PatientClient } from './PatientClient.ts';
import type { Answer, QueryApi } from '../world/types.ts';
import { type Attack, type AttackSetup, attackerKey, clipToBox, standardize } from './Attack.ts';
import { trainSurrogate } from './Surrogate.ts';

/**
 * Sign of the substitute's Jacobian row for each point's assigned class:
 * sgn(∂F_{O(x)}(x)/∂x), F the substitute's softmax output.
 */
export function jacobianSigns(model: tf.Sequential, xs: readonly number[][], labels: readonly number[], classes: number): number[][] {
  useCpuBackend();
  return tf.tidy(() => {
    const mask = tf.tensor2d(labels.map((l) => oneHot(Math.max(l, 0), classes)));
    const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.softmax(model.apply(x) as tf.Tensor), mask)));
    return tf.sign(grad(tf.tensor2d(xs as number[][]))).arraySync() as number[][];
  });
}

/**
 * Papernot et al., "Practical Black-Box Attacks against Machine Learning"
 * (AsiaCCS 2017), Algorithm 1: substitute training with Jacobian-based
 * dataset augmentation. Start from a small natural set S₀ (the attacker's
 * own Seattle rows), label it with the API (top-1 labels only), train the
 * substitute F, then S_{ρ+1} = S_ρ ∪ {x + λ_ρ·sgn(J_F(x)[O(x)]) : x ∈ S_ρ}
 * and repeat. λ is 0.1 of each feature's range (the paper's 0.1 on [0,1]
 * inputs) with the periodic sign flip every τ = 3 rounds (§6.1); when a
 * round would exceed the budget, a random subset of the new points is
 * queried (reservoir sampling, §6.2).
 */
export class PapernotJacobian implements Attack {
  readonly kind = 'attack';
  readonly uses = 'labels';
  readonly algorithm = 'Papernot et al. 2017 Jacobian-based dataset augmentation with a substitute, labels only';
  readonly pace: string;
  readonly keys;
  /** The natural seed set S₀: the first augmented query comes after it. */
  readonly graceCalls: number;

  constructor(
    private readonly setup: AttackSetup,
    readonly id = 'papernot',
    readonly population = 'Papernot JbDA',
    private readonly perMinute = 90,
    private readonly lambda = 0.1,
    private readonly tau = 3,
  ) {
    this.keys = [attackerKey(id, '198.18.4.10')];
    this.pace = `${perMinute}/min scripted, one burst per round`;
    this.graceCalls = Math.min(setup.world.attackerSeed.length, Math.max(10, Math.round(setup.budget / 8)));
  }

  async run(api: QueryApi): Promise<void> {
    const { rng, world, budget, start, surrogate } = this.setup;
    const client = new PatientClient(api, this.keys[0], start);
    const classes = world.classes.length;
    const step = world.box.hi.map((hi, j) => this.lambda * (hi - world.box.lo[j]));
    let xs = rng.shuffled(world.attackerSeed).slice(0, this.graceCalls).map((r) => standardize(world, r.raw));
    let answers: Answer[] = await client.scripted(xs, this.perMinute, rng);
    for (let rho = 0; xs.length < budget; rho++) {
      const substitute = trainSurrogate(xs, answers, this.uses, classes, surrogate.hidden, surrogate.innerPasses, rng.int(0, 2 ** 30));
      const sign = Math.floor(rho / this.tau) % 2 === 0 ? 1 : -1;
      const signs = jacobianSigns(substitute, xs, answers.map((a) => a.label), classes);
      substitute.dispose();
      let fresh = xs.map((x, i) => clipToBox(x.map((v, j) => v + sign * step[j] * signs[i][j]), world.box));
      if (xs.length + fresh.length > budget) fresh = rng.shuffled(fresh).slice(0, budget - xs.length);
      client.idle(rng.uniform(20_000, 60_000)); // the substitute trains between rounds
      const got = await client.scripted(fresh, this.perMinute, rng);
      xs = xs.concat(fresh);
      answers = answers.concat(got);
    }
  }
}
