import { entropy, predictProbs } from '../Classifier.ts';
import { PatientClient } from './PatientClient.ts';
import type { Answer, QueryApi } from '../world/types.ts';
import { type Attack, type AttackSetup, attackerKey } from './Attack.ts';
import { trainSurrogate } from './Surrogate.ts';
import { thiefPool } from './KnockoffNets.ts';

/**
 * Pal et al., "ActiveThief: Model Extraction Using Active Learning and
 * Unannotated Public Data" (AAAI 2020), with the uncertainty strategy: a
 * thief data set of unlabelled natural data from another distribution (New
 * York weather), a random initial seed of 10% of the budget, then rounds in
 * which the substitute is retrained from scratch on every label so far and
 * the k pool samples with the highest entropy of its prediction are queried
 * next. Top-1 labels only.
 */
export class ActiveThief implements Attack {
  readonly kind = 'attack';
  readonly uses = 'labels';
  readonly algorithm = 'Pal et al. 2020 ActiveThief, uncertainty (max-entropy) sampling from another data set, labels only';
  readonly pace: string;
  readonly keys;

  constructor(
    private readonly setup: AttackSetup,
    readonly id = 'activethief',
    readonly population = 'ActiveThief',
    private readonly perMinute = 60,
    private readonly rounds = 9,
  ) {
    this.keys = [attackerKey(id, '198.18.6.10')];
    this.pace = `${perMinute}/min scripted, one burst per round`;
  }

  async run(api: QueryApi): Promise<void> {
    const { rng, world, budget, start, surrogate } = this.setup;
    const client = new PatientClient(api, this.keys[0], start);
    const classes = world.classes.length;
    const pool = thiefPool(world, world.thief, Math.max(3 * budget, world.thief.length), rng.fork('pool')).map((s) => s.x);
    const used = new Array<boolean>(pool.length).fill(false);
    const initial = Math.max(10, Math.round(budget / 10));
    const pick = rng.shuffled(pool.map((_, i) => i)).slice(0, initial);
    const xs: number[][] = [];
    const answers: Answer[] = [];
    const ask = async (idx: number[]) => {
      for (const i of idx) used[i] = true;
      const batch = idx.map((i) => pool[i]);
      answers.push(...(await client.scripted(batch, this.perMinute, rng)));
      xs.push(...batch);
    };
    await ask(pick);
    const k = Math.ceil((budget - initial) / this.rounds);
    for (let round = 0; round < this.rounds && xs.length < budget; round++) {
      const substitute = trainSurrogate(xs, answers, this.uses, classes, surrogate.hidden, surrogate.innerPasses, rng.int(0, 2 ** 30));
      const candidates = pool.map((_, i) => i).filter((i) => !used[i]);
      const probs = predictProbs(substitute, candidates.map((i) => pool[i]));
      substitute.dispose();
      const ranked = candidates.map((i, n) => ({ i, h: entropy(probs[n]) })).sort((a, b) => b.h - a.h || a.i - b.i);
      client.idle(rng.uniform(20_000, 60_000)); // retraining between rounds
      await ask(ranked.slice(0, Math.min(k, budget - xs.length)).map((r) => r.i));
    }
  }
}
