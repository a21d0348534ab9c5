import type { Rng } from '../Rng.ts';
import type { LabelledRecord } from './LabelledRecord.ts';
import { type FittedKernel, type RecordKernel, type RecordSchema, roundTo, silverman } from './RecordKernel.ts';

/** A feature with at most this many distinct values is a category or a count (cylinders): kept as recorded. */
const MAX_DISCRETE_VALUES = 8;

/** Share of a record set that makes up one topic (the anchor's nearest records). */
const TOPIC_SHARE = 0.1;
const MIN_TOPIC_RECORDS = 10;

/**
 * The generic product kernel: each continuous feature moves by its own
 * Silverman bandwidth, stays within the range the records span (a body
 * mass never goes negative) and is rounded to its resolution; discrete
 * features keep their recorded value. A topic is a random record's
 * neighbourhood: its nearest 10% of records in standardised units.
 */
export const gaussianKernel: RecordKernel = {
  name: 'gaussian product kernel',
  fit(records: readonly LabelledRecord[], schema: RecordSchema): FittedKernel {
    if (records.length === 0) throw new RangeError('a kernel needs records');
    const d = records[0].raw.length;
    const column = (j: number) => records.map((r) => r.raw[j]);
    const h = new Array<number>(d);
    const lo = new Array<number>(d);
    const hi = new Array<number>(d);
    const scale = new Array<number>(d);
    for (let j = 0; j < d; j++) {
      const v = column(j);
      h[j] = new Set(v).size <= MAX_DISCRETE_VALUES ? 0 : silverman(v);
      lo[j] = Math.min(...v);
      hi[j] = Math.max(...v);
      scale[j] = silverman(v) / (1.06 * records.length ** -0.2) || 1;
    }
    const topicSize = Math.min(records.length, Math.max(MIN_TOPIC_RECORDS, Math.round(TOPIC_SHARE * records.length)));
    return {
      jitter(raw: readonly number[], rng: Rng): number[] {
        const out = raw.map((v, j) => (h[j] > 0 ? Math.min(hi[j], Math.max(lo[j], v + h[j] * rng.normal())) : v));
        return roundTo(out, schema.resolution);
      },
      topic(rng: Rng): (r: LabelledRecord) => boolean {
        const anchor = records[rng.int(0, records.length - 1)].raw;
        const dist = records.map((r) => r.raw.reduce((s, v, j) => s + ((v - anchor[j]) / scale[j]) ** 2, 0));
        const cut = [...dist].sort((a, b) => a - b)[topicSize - 1];
        const members = new Set(records.filter((_, i) => dist[i] <= cut));
        return (r) => members.has(r);
      },
      group(r: LabelledRecord): string {
        return schema.classes[r.label];
      },
    };
  },
};
