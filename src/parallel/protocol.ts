import type { EventColumns } from './eventColumns.ts';

/** What a worker needs of a model's reference to rebuild the frozen view detectors read (`ModelReference`). */
export interface ReferenceRows {
  dim: number;
  /** Sketch coordinates each record keeps (`ModelReferenceState.width`; absent: `dim`). */
  width?: number;
  n: number;
  samples: number;
  rows: string;
}

/** One batch part, main → worker: the keys with answered events, in the pipeline's order. */
export interface BatchRequest {
  type: 'batch';
  keys: string[];
  /** Each key's answered events (`decodeEvents(events, keys)`). */
  events: EventColumns;
  /** Per offloaded detector, the generation of each key's state (a new one: the key's state starts afresh). */
  gens: Record<string, Float64Array>;
  /** References that changed since the worker last saw them (null: the model has none yet). */
  references: Record<string, ReferenceRows | null>;
  /** Model entities the main thread holds anew (evicted and created again): their baselines start afresh. */
  freshEntities: string[];
}

/**
 * Evidence behind the scores of key `k` after its event `i` of the last
 * batch, from every detector whose output for the key the worker holds: the
 * pipeline records all detectors' evidence for an event at once, so one
 * round trip per worker serves them all.
 */
export interface ExplainRequest {
  type: 'explain';
  k: number;
  i: number;
}

export type WorkerRequest = BatchRequest | ExplainRequest;

/** A detector's output for one key as it crosses threads (`explain` stays behind in the worker). */
export interface WireOutput {
  scores: Float64Array;
  evidence: string[];
  signature?: Float64Array;
  keepOut?: Uint8Array;
  /** The detector gave `explain`: evidence for other events than the last is asked for (`ExplainRequest`). */
  explains: boolean;
  /** With `explains`: the evidence behind the last event's score. */
  lastEvidence?: string[];
}

/** Per detector the worker runs: one output per key of the request (null: not in this worker's shard), or why it failed. */
export type BatchReply = Record<string, (WireOutput | null)[] | { error: string }>;

/** Per detector: its evidence, or why it has none. */
export type ExplainReply = Record<string, { evidence: string[] } | { error: string }>;
