import type * as tf from '@tensorflow/tfjs';
import { createMlp, epochsFor, oneHot, trainClassifier } from '../Classifier.ts';
import type { Answer, Exchange } from '../world/types.ts';
import type { Attack, AnswerUse, AttackSetup } from './Attack.ts';

/** Training target of one answer, or undefined when the call was refused or returned nothing. */
export function targetOf(answer: Answer, uses: AnswerUse, classes: number): number[] | undefined {
  if (answer.status >= 400) return undefined;
  if (uses === 'probabilities' && answer.probs.length === classes) return answer.probs;
  if (answer.label >= 0) return oneHot(answer.label, classes);
  return undefined;
}

/** Trains a fresh surrogate on (input, answer) pairs (input width from the first row; `inputDim` when there may be none). */
export function trainSurrogate(
  xs: readonly number[][],
  answers: readonly Answer[],
  uses: AnswerUse,
  classes: number,
  hidden: readonly number[],
  passes: number,
  seed: number,
  inputDim = xs[0]?.length ?? 0,
): tf.Sequential {
  const x: number[][] = [];
  const y: number[][] = [];
  answers.forEach((a, i) => {
    const t = targetOf(a, uses, classes);
    if (t) {
      x.push(xs[i] as number[]);
      y.push(t);
    }
  });
  const model = createMlp({ inputDim, hidden, classes }, seed);
  trainClassifier(model, x, y, { epochs: epochsFor(x.length, passes), batchSize: 32, learningRate: 0.01, seed });
  return model;
}

/** The campaign's surrogate trained on the exchanges it received (all, or those up to a time). */
export function surrogateFromExchanges(exchanges: readonly Exchange[], attack: Attack, setup: Pick<AttackSetup, 'world' | 'surrogate'>, seed: number): tf.Sequential {
  return trainSurrogate(
    exchanges.map((e) => e.x),
    exchanges.map((e) => e.answer),
    attack.uses,
    setup.world.classes.length,
    setup.surrogate.hidden,
    setup.surrogate.passes,
    seed,
    setup.world.features.length,
  );
}
