import type { GroupVerdict } from '../types.ts';
import type { Contribution } from './EntityView.ts';

/**
 * What reading an aggregate entity needs of its model's baselines: the class
 * width, the model's RMS spread, the class and input-bucket references once
 * ready (null before), and the tails' thresholds quoted in evidence. The
 * per-key stage computes it; with the aggregate stage on, it travels on the
 * facts (only when it changed for that entity) so the stage reads entities
 * against the same baselines.
 */
export interface ModelDigest {
  width: number;
  rms: number;
  classes: number[] | null;
  buckets: number[] | null;
  marginThreshold: number | null;
  entropyThreshold: number | null;
  /** Whether expected tail shares came from the model's traffic near each query (`LocalTail`). */
  local: boolean;
}

/**
 * One event's contribution to one aggregate entity, as the per-key stage
 * publishes it to the repartition topic (keyed by `entity`): ids, event time
 * and the per-event observations `EntityView` pools. No inputs, sketches or
 * probabilities: a margin or entropy tail hit with its expected share, a
 * bisection step, a class index, an input bucket id, a squared distance.
 */
export interface AggregateFact extends Contribution {
  entity: string;
  model: string;
  ts: number;
  /** The model's digest as the sender last saw it; absent when unchanged since it last sent one for this entity. */
  digest?: ModelDigest;
}

/** The aggregate stage's reading of one entity for one model, published to every per-key instance. */
export interface GroupReading {
  entity: string;
  model: string;
  ts: number;
  /** Member keys active in the entity's window; 0 when the entity is no longer scored (below `minKeys`). */
  keys: number;
  scores: Record<string, number>;
  /** Sentence pieces behind each component. */
  detail: Record<string, string>;
}

/**
 * How the aggregates detector reaches the aggregate stage when it runs apart
 * (config `aggregateStage.enabled`): it hands over facts instead of pooling
 * them, reads entities from the stage's latest readings, and reports the
 * group verdicts the stage in this process reached.
 */
export interface EntityStageLink {
  publish(fact: AggregateFact): void;
  reading(entity: string, model: string): GroupReading | undefined;
  takeVerdicts(): GroupVerdict[];
}
