import type * as tf from '@tensorflow/tfjs';
import { argmax, createMlp, epochsFor, oneHot, predictProbs, topOneAgreement, trainClassifier } from './Classifier.ts';
import { Rng } from './Rng.ts';
import { Standardizer } from './Standardizer.ts';
import { FEATURES, type WeatherData, type WeatherRecord } from './weatherData.ts';

/** The model behind the API: a TensorFlow.js MLP over standardised features. */
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

/** Everything the world is built from; attackers see only what the brief of each attack allows. */
export interface VictimWorld {
  classes: readonly string[];
  victim: Victim;
  standardizer: Standardizer;
  /** Seattle rows the victim was trained on (the deployment's natural traffic is drawn around these). */
  train: WeatherRecord[];
  /** A small disjoint sample of natural Seattle rows an attacker may hold (Papernot et al.'s initial set). */
  attackerSeed: WeatherRecord[];
  /** Held-out Seattle rows: agreement is measured here, nobody queries them. */
  test: WeatherRecord[];
  testX: number[][];
  testVictimProbs: number[][];
  /** A different data set of the same schema (New York) for Knockoff Nets and ActiveThief. */
  thief: WeatherRecord[];
  /** The feature ranges the API documents (Seattle min/max), standardised. */
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
}

/** Splits Seattle 65/10/25 (train / attacker seed / test), trains the victim, measures it. */
export function buildVictimWorld(data: WeatherData, options: VictimOptions): VictimWorld {
  const rng = new Rng(options.seed).fork('victim-split');
  const shuffled = rng.shuffled(data.seattle);
  const nTrain = Math.round(shuffled.length * 0.65);
  const nSeed = Math.round(shuffled.length * 0.1);
  const train = shuffled.slice(0, nTrain);
  const attackerSeed = shuffled.slice(nTrain, nTrain + nSeed);
  const test = shuffled.slice(nTrain + nSeed);
  const standardizer = Standardizer.fit(train.map((r) => r.raw));
  const classes = data.classes;

  const model = createMlp({ inputDim: FEATURES.length, hidden: options.hidden, classes: classes.length }, options.seed);
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

  const lo = FEATURES.map((_, j) => Math.min(...data.seattle.map((r) => r.raw[j])));
  const hi = FEATURES.map((_, j) => Math.max(...data.seattle.map((r) => r.raw[j])));
  const box = { lo: standardizer.apply(lo), hi: standardizer.apply(hi) };
  return { classes, victim, standardizer, train, attackerSeed, test, testX, testVictimProbs, thief: data.newYork, box, accuracy, majorityAgreement };
}
