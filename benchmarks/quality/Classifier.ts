import * as tf from '@tensorflow/tfjs';
import { Rng } from './Rng.ts';

/**
 * Makes the plain CPU backend the active one for the victim's and the
 * attackers' models. probewatch's Compute picks its own backend at start-up
 * (WASM on this machine) and activates it on each call, so every entry
 * point here switches back first (synchronous once both are initialised).
 */
export function useCpuBackend(): void {
  if (tf.getBackend() !== 'cpu') void tf.setBackend('cpu');
  if (tf.getBackend() !== 'cpu') throw new Error('the cpu backend is not initialised: await tf.setBackend("cpu") once at start-up');
}

export interface MlpShape {
  inputDim: number;
  hidden: readonly number[];
  classes: number;
}

export interface TrainOptions {
  /** Passes over the data; see `epochsFor`. */
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Seeds the shuffle order of every epoch. */
  seed: number;
}

/**
 * A small fully connected classifier in TensorFlow.js: ReLU hidden layers,
 * linear logits (softmax is applied by `predictProbs` and inside the loss).
 * Weights start from seeded Glorot-uniform draws, so the same seed gives
 * the same model on the CPU backend.
 */
export function createMlp(shape: MlpShape, seed: number): tf.Sequential {
  useCpuBackend();
  const model = tf.sequential();
  shape.hidden.forEach((units, i) =>
    model.add(
      tf.layers.dense({
        units,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + i }),
        ...(i === 0 ? { inputShape: [shape.inputDim] } : {}),
      }),
    ),
  );
  model.add(
    tf.layers.dense({
      units: shape.classes,
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed + shape.hidden.length }),
      ...(shape.hidden.length === 0 ? { inputShape: [shape.inputDim] } : {}),
    }),
  );
  return model;
}

/** Epochs so that training sees about `passes` examples, within [min, max]. */
export function epochsFor(n: number, passes: number, min = 10, max = 300): number {
  return Math.max(min, Math.min(max, Math.round(passes / Math.max(n, 1))));
}

/**
 * Minimises softmax cross-entropy against `targets` (one-hot labels or the
 * probability vectors an API returned: with soft targets this is the
 * distillation loss of Hinton et al. 2015, which model-extraction attacks
 * with probability outputs use). Synchronous, with a seeded shuffle, so a
 * run is reproducible.
 */
export function trainClassifier(model: tf.Sequential, x: readonly number[][], targets: readonly number[][], options: TrainOptions): void {
  const n = x.length;
  if (n === 0) return;
  useCpuBackend();
  const rng = new Rng(options.seed);
  const xs = tf.tensor2d(x as number[][]);
  const ys = tf.tensor2d(targets as number[][]);
  const optimizer = tf.train.adam(options.learningRate);
  const order = Array.from({ length: n }, (_, i) => i);
  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const perm = rng.shuffled(order);
      for (let start = 0; start < n; start += options.batchSize) {
        tf.tidy(() => {
          const idx = tf.tensor1d(perm.slice(start, start + options.batchSize), 'int32');
          const xb = tf.gather(xs, idx);
          const yb = tf.gather(ys, idx);
          optimizer.minimize(() => tf.losses.softmaxCrossEntropy(yb, model.apply(xb) as tf.Tensor) as tf.Scalar);
        });
      }
    }
  } finally {
    xs.dispose();
    ys.dispose();
    optimizer.dispose();
  }
}

/** Class probabilities for each row. */
export function predictProbs(model: tf.Sequential, x: readonly number[][]): number[][] {
  if (x.length === 0) return [];
  useCpuBackend();
  return tf.tidy(() => tf.softmax(model.apply(tf.tensor2d(x as number[][])) as tf.Tensor).arraySync() as number[][]);
}

export function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
}

export function oneHot(label: number, classes: number): number[] {
  const v = new Array<number>(classes).fill(0);
  v[label] = 1;
  return v;
}

/** Share of rows on which two models' top-1 classes agree. */
export function topOneAgreement(a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[]): number {
  if (a.length !== b.length) throw new RangeError('agreement needs equal row counts');
  if (a.length === 0) return NaN;
  let same = 0;
  for (let i = 0; i < a.length; i++) if (argmax(a[i]) === argmax(b[i])) same++;
  return same / a.length;
}

/** Shannon entropy (nats) of a probability vector. */
export function entropy(p: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < p.length; i++) if (p[i] > 0) h -= p[i] * Math.log(p[i]);
  return h;
}
