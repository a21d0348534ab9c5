import type * as tf from '@tensorflow/tfjs';
import { argmax, createMlp, epochsFor, oneHot, predictProbs, topOneAgreement, trainClassifier } from './Classifier.ts';
import { Rng } from './Rng.ts';
import { Standardizer } from './Standardizer.ts';
import type { LabelledRecord } from './data/LabelledRecord.ts';
import type { RecordKernel } from './data/RecordKernel.ts';
import type { TabularData } from './data/TabularData.ts';

/** The model behind the API: a TensorFlow.js MLP (or softmax regression) over standardised features. */
export class Victim {
  constructor(
    readonly model: tf.Sequential,
    readonly standardizer: Standardizer,
    readonly classes: readonly string[],
  ) {}

  /** Class probabilities for standardised inputs. */
  predict(x: readonly number[][]): number[][] {
    return predictProbs(this.model, x);
  }
}

/** Axis-aligned bounds of the input space in standardised units. */
export interface Box {
  lo: number[];
  hi: number[];
}

/**
 * Everything the world is built from; attackers see only what the brief of
 * each attack allows. `R` is the data set's record type (weather rows carry
 * their city and date).
 */
export interface VictimWorld<R extends LabelledRecord = LabelledRecord> {
  /** The data set's short name (weather, penguins, cars, synthetic-…). */
  name: string;
  /** The model id the gateway reports. */
  modelId: string;
  /** Raw feature names, in `raw` order. */
  features: readonly string[];
  /** Measurement resolution per raw feature (natural inputs are rounded to it). */
  resolution: readonly number[];
  classes: readonly string[];
  /** Class prior of `train` (true labels), in `classes` order. */
  prior: readonly number[];
  /** How natural inputs are drawn around this data's rows (`new NaturalSampler(records, world)`). */
  kernel: RecordKernel;
  victim: Victim;
  standardizer: Standardizer;
  /** Home rows the victim was trained on (the deployment's natural traffic is drawn around these). */
  train: R[];
  /** A small disjoint sample of natural home rows an attacker may hold (Papernot et al.'s initial set). */
  attackerSeed: R[];
  /** Held-out home rows: agreement is measured here, nobody queries them. */
  test: R[];
  testX: number[][];
  testVictimProbs: number[][];
  /** Foreign rows of the same schema (New York for the Seattle model) for Knockoff Nets, ActiveThief and users from elsewhere. */
  thief: R[];
  /** The feature ranges the API documents (home min/max), standardised. */
  box: Box;
  /** Victim accuracy against the true labels of `test`. */
  accuracy: number;
  /** Agreement of always answering the victim's most frequent test class (the chance floor). */
  majorityAgreement: number;
}

export interface VictimOptions {
  seed: number;
  hidden: readonly number[];
  /** Training examples seen (epochs = passes / rows). */
  passes: number;
  /** The model id the gateway reports (default `<data>-<kind>`, `seattle-weather-mlp` for weather). */
  modelId?: string;
}

/** Splits the home rows 65/10/25 (train / attacker seed / test), trains the victim (no hidden layer: softmax regression), measures it. */
export function buildVictimWorld<R extends LabelledRecord>(data: TabularData<R>, options: VictimOptions): VictimWorld<R> {
  const rng = new Rng(options.seed).fork('victim-split');
  const shuffled = rng.shuffled(data.home);
  const nTrain = Math.round(shuffled.length * 0.65);
  const nSeed = Math.round(shuffled.length * 0.1);
  const train = shuffled.slice(0, nTrain);
  const attackerSeed = shuffled.slice(nTrain, nTrain + nSeed);
  const test = shuffled.slice(nTrain + nSeed);
  const standardizer = Standardizer.fit(train.map((r) => r.raw));
  const classes = data.classes;

  const model = createMlp({ inputDim: data.features.length, hidden: options.hidden, classes: classes.length }, options.seed);
  const x = train.map((r) => standardizer.apply(r.raw));
  trainClassifier(
    model,
    x,
    train.map((r) => oneHot(r.label, classes.length)),
    { epochs: epochsFor(x.length, options.passes), batchSize: 32, learningRate: 0.01, seed: options.seed },
  );
  const victim = new Victim(model, standardizer, classes);
  const testX = test.map((r) => standardizer.apply(r.raw));
  const testVictimProbs = victim.predict(testX);
  const accuracy = test.filter((r, i) => argmax(testVictimProbs[i]) === r.label).length / test.length;
  const counts = new Array<number>(classes.length).fill(0);
  for (const p of testVictimProbs) counts[argmax(p)]++;
  const majority = oneHot(argmax(counts), classes.length);
  const majorityAgreement = topOneAgreement(testVictimProbs, testVictimProbs.map(() => majority));

  const lo = data.features.map((_, j) => data.home.reduce((m, r) => Math.min(m, r.raw[j]), Infinity));
  const hi = data.features.map((_, j) => data.home.reduce((m, r) => Math.max(m, r.raw[j]), -Infinity));
  const box = { lo: standardizer.apply(lo), hi: standardizer.apply(hi) };
  const prior = new Array<number>(classes.length).fill(0);
  for (const r of train) prior[r.label] += 1 / train.length;
  const modelId = options.modelId ?? (data.name === 'weather' ? 'seattle-weather-mlp' : `${data.name}-${options.hidden.length ? `mlp-${options.hidden.join('-')}` : 'softmax'}`);
  return {
    name: data.name,
    modelId,
    features: data.features,
    resolution: data.resolution,
    classes,
    prior,
    kernel: data.kernel,
    victim,
    standardizer,
    train,
    attackerSeed,
    test,
    testX,
    testVictimProbs,
    thief: data.foreign.slice(),
    box,
    accuracy,
    majorityAgreement,
  };
}
