import type * as tf from '@tensorflow/tfjs';
import { createMlp, predictProbs } from '../Classifier.ts';
import { NaturalSampler } from '../NaturalSampler.ts';
import type { Rng } from '../Rng.ts';
import type { VictimWorld } from '../Victim.ts';
import type { LabelledRecord } from '../data/LabelledRecord.ts';
import { PatientClient } from './PatientClient.ts';
import type { Answer, QueryApi } from '../world/types.ts';
import { type Attack, type AttackSetup, attackerKey, standardize } from './Attack.ts';
import { trainSurrogate } from './Surrogate.ts';

/** A natural input of the attacker's own data set, with the coarse group it belongs to. */
export interface ThiefSample {
  x: number[];
  /** Coarse label of the attacker's data (its own class, for weather × season). */
  group: string;
}

/**
 * The attacker's natural data: every real row of the other data set, then
 * smoothed-bootstrap samples around them until `size` (the table is finite).
 */
export function thiefPool(world: VictimWorld, records: readonly LabelledRecord[], size: number, rng: Rng): ThiefSample[] {
  const sampler = new NaturalSampler(records, world);
  const group = (r: LabelledRecord) => sampler.group(r);
  const pool = rng.shuffled(records).map((r) => ({ x: standardize(world, r.raw), group: group(r) }));
  while (pool.length < size) {
    const r = sampler.record(rng);
    pool.push({ x: standardize(world, sampler.jitter(r.raw, rng)), group: group(r) });
  }
  return pool;
}

/**
 * Orekondy et al., "Knockoff Nets: Stealing Functionality of Black-Box
 * Models" (CVPR 2019), adaptive strategy (§4.2): the transfer set comes from
 * a different natural data set (New York weather against a Seattle model),
 * its coarse labels are the arms of a gradient bandit (Sutton & Barto
 * §2.8), and each answer pays the paper's three rewards — certainty (top-1
 * minus top-2), diversity (the answer's mass above the recent mean, which
 * balances the victim's classes) and the knockoff's loss on it. The
 * knockoff is refitted on the probabilities every `refitEvery` answers.
 * One call at a time, since each choice depends on the last reward.
 */
export class KnockoffNets implements Attack {
  readonly kind = 'attack';
  readonly uses = 'probabilities';
  readonly algorithm = 'Orekondy et al. 2019 Knockoff Nets, adaptive (gradient bandit over the other data set\'s classes), probabilities';
  readonly pace: string;
  readonly keys;

  constructor(
    private readonly setup: AttackSetup,
    readonly id = 'knockoff',
    readonly population = 'Knockoff Nets',
    private readonly perMinute = 90,
    private readonly learningRate = 0.1,
    /** Window Δ of the diversity reward. */
    private readonly diversityWindow = 25,
  ) {
    this.keys = [attackerKey(id, '198.18.5.10')];
    this.pace = `${perMinute}/min, one call at a time`;
  }

  async run(api: QueryApi): Promise<void> {
    const { rng, world, budget, start, surrogate } = this.setup;
    const client = new PatientClient(api, this.keys[0], start);
    const classes = world.classes.length;
    const pool = thiefPool(world, world.thief, Math.max(budget, world.thief.length), rng.fork('pool'));
    const arms = new Map<string, ThiefSample[]>();
    for (const s of pool) {
      let arm = arms.get(s.group);
      if (!arm) arms.set(s.group, (arm = []));
      arm.push(s);
    }
    // Real rows first: arms are popped from the end.
    for (const arm of arms.values()) arm.reverse();
    const names = [...arms.keys()].sort();
    const h = new Array<number>(names.length).fill(0);
    const refitEvery = Math.max(25, Math.round(budget / 20));
    let knockoff: tf.Sequential = createMlp({ inputDim: world.features.length, hidden: surrogate.hidden, classes }, rng.int(0, 2 ** 30));
    const xs: number[][] = [];
    const answers: Answer[] = [];
    let meanReward = 0;
    for (let t = 0; t < budget; t++) {
      const live = names.map((n) => (arms.get(n)!.length > 0 ? 1 : 0));
      if (!live.some(Boolean)) break;
      const pi = softmax(h, live);
      const arm = rng.weighted(pi);
      const x = arms.get(names[arm])!.pop()!.x;
      const [answer] = await client.scripted([x], this.perMinute, rng);
      xs.push(x);
      answers.push(answer);
      const reward = this.reward(answer, answers, predictProbs(knockoff, [x])[0], classes);
      meanReward += (reward - meanReward) / (t + 1);
      for (let a = 0; a < h.length; a++) {
        h[a] += this.learningRate * (reward - meanReward) * ((a === arm ? 1 : 0) - pi[a]);
      }
      if ((t + 1) % refitEvery === 0) {
        knockoff.dispose();
        knockoff = trainSurrogate(xs, answers, this.uses, classes, surrogate.hidden, surrogate.innerPasses, rng.int(0, 2 ** 30));
      }
    }
    knockoff.dispose();
  }

  /** Certainty + diversity + loss, each in [0, 1] (Orekondy et al. §4.2). */
  private reward(answer: Answer, history: readonly Answer[], predicted: readonly number[], classes: number): number {
    const y = answer.probs.length === classes ? answer.probs : answer.label >= 0 ? predicted.map((_, k) => (k === answer.label ? 1 : 0)) : undefined;
    if (!y) return 0;
    const sorted = [...y].sort((a, b) => b - a);
    const certainty = sorted[0] - (sorted[1] ?? 0);
    const recent = history.slice(-this.diversityWindow - 1, -1).filter((a) => a.probs.length === classes);
    let diversity = 0;
    if (recent.length > 0) {
      for (let k = 0; k < classes; k++) {
        const mean = recent.reduce((s, a) => s + a.probs[k], 0) / recent.length;
        diversity += Math.max(0, y[k] - mean);
      }
    }
    let loss = 0;
    for (let k = 0; k < classes; k++) if (y[k] > 0) loss -= y[k] * Math.log(Math.max(predicted[k], 1e-6));
    return certainty + Math.min(1, diversity) + Math.min(1, loss / Math.log(classes));
  }
}

function softmax(h: readonly number[], live: readonly number[]): number[] {
  const max = Math.max(...h.filter((_, i) => live[i]));
  const e = h.map((v, i) => (live[i] ? Math.exp(v - max) : 0));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
