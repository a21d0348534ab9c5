import * as tf from '@tensorflow/tfjs';
import { argmax } from '../../benchmarks/quality/Classifier.ts';
import { buildVictimWorld, type Victim } from '../../benchmarks/quality/Victim.ts';
import { FEATURES, loadWeatherData, type WeatherData } from '../../benchmarks/quality/weatherData.ts';

/** A documented input range (raw units: mm, °C, °C, m/s, day of year). */
export interface FeatureRange {
  name: (typeof FEATURES)[number];
  min: number;
  max: number;
}

/** What `GET /v1/models/<id>` documents. */
export interface ModelCard {
  id: string;
  features: FeatureRange[];
  classes: readonly string[];
}

export interface WeatherModelOptions {
  id: string;
  seed: number;
  hidden: readonly number[];
  passes: number;
}

/**
 * The model served: the quality benchmark's victim, a TensorFlow.js MLP on
 * the Seattle days of `vega-datasets`' weather.csv, trained at start-up on
 * the plain CPU backend from a seed (same seed, same weights, no network).
 * Answers class probabilities for raw feature values; the z-score
 * standardisation fitted on its training rows is its own preprocessing.
 */
export class WeatherModel {
  private constructor(
    readonly id: string,
    private readonly victim: Victim,
    /** Held-out accuracy, for the start-up log. */
    readonly accuracy: number,
    /** The Seattle min/max of each feature: the ranges the API documents. */
    readonly ranges: FeatureRange[],
  ) {}

  static async train(options: WeatherModelOptions, data: WeatherData = loadWeatherData()): Promise<WeatherModel> {
    await tf.setBackend('cpu');
    await tf.ready();
    const world = buildVictimWorld(data, { seed: options.seed, hidden: options.hidden, passes: options.passes });
    const ranges = FEATURES.map((name, j) => {
      const values = data.seattle.map((r) => r.raw[j]);
      return { name, min: Math.min(...values), max: Math.max(...values) };
    });
    return new WeatherModel(options.id, world.victim, world.accuracy, ranges);
  }

  get classes(): readonly string[] {
    return this.victim.classes;
  }

  /** The model's own preprocessing; the sketch is taken from these values too. */
  standardize(raw: readonly number[]): number[] {
    return this.victim.standardizer.apply(raw);
  }

  /** Class probabilities and the top-1 class for one row of standardised features. */
  predict(x: readonly number[]): { probs: number[]; label: number } {
    const [probs] = this.victim.predict([x as number[]]);
    return { probs, label: argmax(probs) };
  }

  card(): ModelCard {
    return { id: this.id, features: this.ranges, classes: this.classes };
  }
}
