import type { LabelledRecord } from './LabelledRecord.ts';
import type { RecordKernel } from './RecordKernel.ts';

/**
 * A labelled tabular data set split the way a world needs it: the home
 * rows the victim is trained on and its natural traffic comes from, and
 * foreign rows of the same schema from another distribution (another
 * city, island, period, or a shifted synthetic population) that attackers
 * with "their own data" (Knockoff Nets, ActiveThief) and users from
 * elsewhere draw from.
 */
export interface TabularData<R extends LabelledRecord = LabelledRecord> {
  /** Short name (used in model ids and tables). */
  readonly name: string;
  /** One line on the source and the split, for the report. */
  readonly description: string;
  readonly features: readonly string[];
  /** Measurement resolution per raw feature. */
  readonly resolution: readonly number[];
  readonly classes: readonly string[];
  readonly home: readonly R[];
  readonly foreign: readonly R[];
  /** How natural inputs are drawn around this data's rows. */
  readonly kernel: RecordKernel;
}
