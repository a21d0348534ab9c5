/**
 * One key's detector scores after each of its events, in event order, as
 * fusion saw them during a replay, with the key's label. What `probewatch
 * train` fits and checks fusion weights on.
 */
export interface ScoredKey {
  readonly key: string;
  /** True for an attacking key, false for a benign one. */
  readonly attack: boolean;
  /** The key's tenant (its latest event that named one), for per-tenant policy. */
  readonly tenant: string | null;
  /** Number of events. */
  readonly events: number;
  /** `events × detectors` scores, row-major, detectors in pipeline order. */
  readonly scores: Float64Array;
  /** Event time of each event. */
  readonly ts: Float64Array;
}
