/** One row of a tabular data set: raw feature values and the true class. */
export interface LabelledRecord {
  /** Raw feature values, in the data set's `features` order and units. */
  raw: number[];
  /** Index into the data set's `classes`. */
  label: number;
}
