import type { Rng } from '../Rng.ts';
import type { LabelledRecord } from './LabelledRecord.ts';

/** What a kernel is fitted with: the data set's measurement resolution and class names. */
export interface RecordSchema {
  /** Measurement resolution of each raw feature (values are rounded to it). */
  readonly resolution: readonly number[];
  readonly classes: readonly string[];
}

/** A kernel fitted to one set of records. */
export interface FittedKernel {
  /** A new natural input near `raw`, rounded to the resolution. */
  jitter(raw: readonly number[], rng: Rng): number[];
  /**
   * A person's topic: the records one user of the data keeps coming back to
   * (a time of year, a neighbourhood of the input space). Returns the filter
   * of those records.
   */
  topic(rng: Rng): (r: LabelledRecord) => boolean;
  /** A coarse group of a record as the record's owner would name it (its class, maybe × season). */
  group(r: LabelledRecord): string;
}

/**
 * How natural inputs beyond a finite table are drawn, per data set: a
 * smoothed bootstrap (Silverman 1986 §6.4) whose kernel knows the data's
 * shape (zero-inflated rain, discrete cylinder counts, ...).
 */
export interface RecordKernel {
  readonly name: string;
  fit(records: readonly LabelledRecord[], schema: RecordSchema): FittedKernel;
}

function sd(values: readonly number[]): number {
  const m = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - m) ** 2, 0) / values.length);
}

/** Silverman's rule-of-thumb bandwidth, 1.06·σ·n^(-1/5) (Silverman 1986, eq. 3.28). */
export function silverman(values: readonly number[]): number {
  return 1.06 * sd(values) * values.length ** -0.2;
}

/** Rounds raw features to a measurement resolution. */
export function roundTo(raw: readonly number[], resolution: readonly number[]): number[] {
  return raw.map((v, j) => Math.round(v / resolution[j]) * resolution[j]);
}
