import type { LabelledRecord } from './data/LabelledRecord.ts';
import { type FittedKernel, type RecordKernel, type RecordSchema, roundTo } from './data/RecordKernel.ts';
import type { Rng } from './Rng.ts';

export { dayDistance } from './data/WeatherKernel.ts';

/** What a sampler needs of its data set (a `VictimWorld` or a `TabularData` has it). */
export interface SamplerSchema extends RecordSchema {
  readonly kernel: RecordKernel;
}

/**
 * Natural inputs beyond the finite table: a smoothed bootstrap (kernel
 * density estimate, Silverman 1986 §6.4) around real records, with the
 * data set's own kernel. A real record is drawn, then perturbed by the
 * kernel and rounded to the resolution the data is measured at, as a real
 * client would send it.
 */
export class NaturalSampler<R extends LabelledRecord = LabelledRecord> {
  private readonly kernel: FittedKernel;

  constructor(
    readonly records: readonly R[],
    private readonly schema: SamplerSchema,
  ) {
    if (records.length === 0) throw new RangeError('NaturalSampler needs records');
    this.kernel = schema.kernel.fit(records, schema);
  }

  get resolution(): readonly number[] {
    return this.schema.resolution;
  }

  /** Raw features per record. */
  get dim(): number {
    return this.records[0].raw.length;
  }

  /** An exact real record, optionally among those `accept` allows. */
  record(rng: Rng, accept?: (r: R) => boolean): R {
    const pool = accept ? this.records.filter(accept) : this.records;
    return rng.pick(pool.length ? pool : this.records);
  }

  /** A new natural input near a real record, as raw features. */
  sample(rng: Rng, accept?: (r: R) => boolean): number[] {
    return this.jitter(this.record(rng, accept).raw, rng);
  }

  jitter(raw: readonly number[], rng: Rng): number[] {
    return this.kernel.jitter(raw, rng);
  }

  /** Rounds raw features to the data set's resolution. */
  round(raw: readonly number[]): number[] {
    return roundTo(raw, this.schema.resolution);
  }

  /** A person's topic: the filter of the records one user keeps coming back to. */
  topic(rng: Rng): (r: LabelledRecord) => boolean {
    return this.kernel.topic(rng);
  }

  /** A record's coarse group as its owner would name it (class, maybe × season). */
  group(r: LabelledRecord): string {
    return this.kernel.group(r);
  }
}
