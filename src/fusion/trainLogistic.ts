import * as tf from '@tensorflow/tfjs';
import type { TrainingSet } from './trainingSet.ts';

export interface LogisticFitOptions {
  /** L2 penalty on the coefficients (not the bias): keeps them finite when the classes separate. */
  l2?: number;
  /** Most optimiser steps (full batch). */
  maxSteps?: number;
  learningRate?: number;
  /** Stop once 100 steps improve the objective by less than this. */
  tolerance?: number;
}

export interface LogisticFit {
  bias: number;
  /** One non-negative coefficient per feature column. */
  weights: number[];
  /** Final objective: weighted log-loss of each key's highest risk, plus the penalty. */
  loss: number;
  steps: number;
}

/**
 * Fits risk = σ(bias + Σ wᵢ·xᵢ) so that each key's highest risk over its
 * rows predicts its label: weighted logistic loss on the max-pooled logit
 * per key (see buildTrainingSet), with an L2 penalty. Runs on TensorFlow.js's
 * CPU backend, set explicitly so the result does not depend on which
 * accelerated backend is installed; full-batch Adam from zero, so the fit
 * is deterministic. After every step the coefficients are projected onto
 * wᵢ ≥ 0 (projected gradient descent): a negative weight would let an
 * attacker lower its risk by deliberately triggering that detector, and
 * a detector with no useful signal then gets exactly 0.
 */
export async function trainLogistic(set: TrainingSet, options: LogisticFitOptions = {}): Promise<LogisticFit> {
  const { l2 = 1e-4, maxSteps = 5000, learningRate = 0.05, tolerance = 1e-6 } = options;
  if (!(await tf.setBackend('cpu'))) throw new Error('TensorFlow.js cpu backend failed to initialise');
  await tf.ready();
  // The CPU backend prints advice to stdout on first use, which would land in the command's report.
  (tf.findBackend('cpu') as { firstUse?: boolean } | undefined)!.firstUse = false;

  const keys = set.y.length;
  const width = Math.max(1, ...set.keyRows);
  // Each key's rows padded to the same count, the padding masked far below any real logit so it never wins the max
  // (a dense layout: gathering rows per key makes the CPU backend's gradient scan every row once per key).
  const padded = new Float32Array(keys * width * set.features);
  const mask = new Float32Array(keys * width).fill(-1e4);
  for (let k = 0; k < keys; k++) {
    padded.set(set.x.subarray(set.keyStart[k] * set.features, (set.keyStart[k] + set.keyRows[k]) * set.features), k * width * set.features);
    mask.fill(0, k * width, k * width + set.keyRows[k]);
  }
  const x = tf.tensor2d(padded, [keys * width, set.features]);
  const padding = tf.tensor2d(mask, [keys, width]);
  const y = tf.tensor1d(set.y);
  const w = tf.tensor1d(set.w);
  const coef = tf.variable(tf.zeros([set.features, 1]));
  const bias = tf.variable(tf.scalar(0));
  const optimizer = tf.train.adam(learningRate);
  const objective = () =>
    tf.tidy(() => {
      const peak = x.matMul(coef).reshape([keys, width]).add(padding).add(bias).max(1);
      // Σ w·(softplus(m) − y·m) is the weighted binary cross-entropy of the logits m, stable for any m.
      const crossEntropy = tf.softplus(peak).sub(y.mul(peak)).mul(w).sum();
      return crossEntropy.add(coef.square().sum().mul(l2)) as tf.Scalar;
    });
  let steps = 0;
  let previous = Infinity;
  let loss = Infinity;
  try {
    while (steps < maxSteps) {
      optimizer.minimize(objective);
      tf.tidy(() => coef.assign(tf.relu(coef)));
      steps++;
      if (steps % 100 === 0 || steps === maxSteps) {
        loss = tf.tidy(() => objective().dataSync()[0]);
        if (previous - loss < tolerance) break;
        previous = loss;
      }
    }
    return { bias: (await bias.data())[0], weights: [...(await coef.data())], loss, steps };
  } finally {
    tf.dispose([x, padding, y, w, coef, bias]);
    optimizer.dispose();
  }
}
