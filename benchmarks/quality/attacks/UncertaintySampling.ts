import { entropy, predictProbs } from '../Classifier.ts';
import { NaturalSampler } from '../NaturalSampler.ts';
import type { Rng } from '../Rng.ts';
import type { VictimWorld } from '../Victim.ts';
import type { Answer, QueryApi } from '../world/types.ts';
import { type Attack, type AttackSetup, attackerKey, clipToBox, standardize, uniformInBox } from './Attack.ts';
import { PatientClient } from './PatientClient.ts';
import { trainSurrogate } from './Surrogate.ts';

/** Where the active learner's unlabelled candidates come from. */
export type PoolSource = 'foreign' | 'uniform';

/** How the learner ranks candidates: smallest top-1 − top-2 margin, or largest entropy. */
export type UncertaintyMeasure = 'margin' | 'entropy';

/** Uncertainty of one probability vector, larger = less sure. */
export function uncertainty(p: readonly number[], measure: UncertaintyMeasure): number {
  if (measure === 'entropy') return entropy(p);
  let first = -Infinity;
  let second = -Infinity;
  for (const v of p) {
    if (v > first) [first, second] = [v, first];
    else if (v > second) second = v;
  }
  return -(first - (second === -Infinity ? 0 : second));
}

/** Unlabelled candidates: the foreign data set's rows then smoothed-bootstrap samples around them, or uniform points of the box. */
export function candidatePool(world: VictimWorld, source: PoolSource, size: number, rng: Rng): number[][] {
  if (source === 'uniform') return Array.from({ length: size }, () => uniformInBox(rng, world.box));
  const rows = rng.shuffled(world.thief).map((r) => clipToBox(standardize(world, r.raw), world.box));
  const sampler = new NaturalSampler(world.thief, world);
  while (rows.length < size) rows.push(clipToBox(standardize(world, sampler.sample(rng)), world.box));
  return rows;
}

/**
 * Pool-based active learning used for extraction, as Chandrasekaran et al.
 * study it ("Exploring Connections Between Active Learning and Model
 * Extraction", USENIX Security 2020): a random 10% of the budget is
 * labelled first; then, in rounds, the substitute is retrained from scratch
 * on every answer so far and the `batch` candidates it is least sure about
 * are queried — smallest margin between its top two classes (Scheffer et
 * al. 2001) or largest entropy (uncertainty sampling, Lewis & Gale 1994).
 * The pool is unlabelled data of another distribution or uniform points of
 * the documented ranges. The substitute learns from the probabilities.
 */
export class UncertaintySampling implements Attack {
  readonly kind = 'attack';
  readonly uses = 'probabilities';
  readonly algorithm: string;
  readonly pace: string;
  readonly keys;

  constructor(
    private readonly setup: AttackSetup,
    private readonly source: PoolSource = 'uniform',
    private readonly measure: UncertaintyMeasure = 'margin',
    readonly id = 'uncertainty',
    readonly population = 'uncertainty sampling',
    private readonly perMinute = 60,
    /** Queries per round after the random start. */
    private readonly batch = Math.max(20, Math.ceil((0.9 * setup.budget) / 10)),
    ip = '198.18.11.10',
  ) {
    this.keys = [attackerKey(id, ip)];
    this.pace = `${perMinute}/min scripted, one burst of ${batch} per round`;
    this.algorithm = `Chandrasekaran et al. 2020 pool-based active learning (${measure} sampling, ${source} pool), probabilities`;
  }

  async run(api: QueryApi): Promise<void> {
    const { rng, world, budget, start, surrogate } = this.setup;
    const client = new PatientClient(api, this.keys[0], start);
    const classes = world.classes.length;
    const pool = candidatePool(world, this.source, Math.max(5 * budget, 500), rng.fork('pool'));
    const used = new Array<boolean>(pool.length).fill(false);
    const xs: number[][] = [];
    const answers: Answer[] = [];
    const ask = async (idx: number[]) => {
      for (const i of idx) used[i] = true;
      const batch = idx.map((i) => pool[i]);
      answers.push(...(await client.scripted(batch, this.perMinute, rng)));
      xs.push(...batch);
    };
    await ask(rng.shuffled(pool.map((_, i) => i)).slice(0, Math.min(budget, Math.max(10, Math.round(budget / 10)))));
    while (xs.length < budget) {
      const substitute = trainSurrogate(xs, answers, this.uses, classes, surrogate.hidden, surrogate.innerPasses, rng.int(0, 2 ** 30));
      const candidates = pool.map((_, i) => i).filter((i) => !used[i]);
      if (candidates.length === 0) break;
      const probs = predictProbs(substitute, candidates.map((i) => pool[i]));
      substitute.dispose();
      const ranked = candidates.map((i, n) => ({ i, u: uncertainty(probs[n], this.measure) })).sort((a, b) => b.u - a.u || a.i - b.i);
      client.idle(rng.uniform(10_000, 40_000)); // retraining between rounds
      await ask(ranked.slice(0, Math.min(this.batch, budget - xs.length)).map((r) => r.i));
    }
  }
}
