import type { z } from 'zod';
import type { InferenceEvent } from '../src/contract.ts';
import type { Compute } from '../src/compute/Compute.ts';
import type { ModelReference } from '../src/baselines/ModelReference.ts';
import type { EntityStageLink } from './shared/aggregateFacts.ts';

/**
 * One key's new events from one poll, in event-time order, with the
 * detector's own state for that key. Detectors mutate `state` in place.
 *
 * State is plain data: numbers, strings, arrays, plain objects, and typed
 * arrays (Float32Array rows and the like) for the vectors a detector works
 * on, kept live in them so that no event pays to decode or encode them. It
 * is encoded only when a snapshot is written to Redis, so the next owner of
 * a partition can restore it (MessagePack sections, `SnapshotCodec`, which
 * keep typed arrays), and when a quiet key is held packed (V8 serialisation,
 * `KeyStatePacker`). So: no class instances or functions; a typed array
 * owns its whole buffer (the packer would write all of a larger one it
 * views) and is shared between keys only if never written in place; JSON
 * does not round-trip typed arrays, and nothing JSON-encodes key state. Worker threads (`replay --workers`) keep their detectors' state
 * on their side and never send it. A detector that changes its state's form
 * reads the older form too (snapshots outlive releases).
 */
export interface KeyGroup<S> {
  readonly key: string;
  readonly events: readonly InferenceEvent[];
  state: S;
}

/**
 * Families of evidence (DESIGN.md): how much a key calls; the geometry of its
 * inputs; the statistics of what it gets back; what a group of keys does.
 */
export const EVIDENCE_FAMILIES = ['rate', 'geometry', 'output', 'cross-key'] as const;
export type EvidenceFamily = (typeof EVIDENCE_FAMILIES)[number];

/** What a detector says about one key after one poll. */
export interface DetectorOutput {
  /** The key's score in [0,1] after each of its new events (same length as `events`). */
  scores: ArrayLike<number>;
  /** Short sentences with the numbers behind the last score; empty when quiet. */
  evidence: string[];
  /**
   * Evidence behind the score after event `index` of the group. Optional:
   * without it a level change in mid-batch quotes `evidence` (the batch's
   * end), so evidence text would depend on batch boundaries.
   */
  explain?(index: number): string[];
  /**
   * The part of each score that is an extraction-specific signature (a line
   * search, a lattice, augmentation offsets, off-manifold volume, input
   * coverage far beyond the model's traffic), same
   * length as `scores`. Optional: a detector declared `signature: true`
   * counts its whole score; others count none.
   */
  signature?: ArrayLike<number>;
  /**
   * Per event (same length as `scores`), optional: non-zero where the key leans this detector's way
   * although its score is still low. The model reference's gate keeps such a key's queries out, as it
   * does once any behavioural score reaches `reference.gate.excludeAboveScore`.
   */
  keepOut?: ArrayLike<number>;
}

/** What a group of keys sharing a tenant, a network prefix or a query geometry is (`scope`). */
export type GroupScope = 'tenant' | 'prefix' | 'geometry';

/**
 * A cross-key detector's reading of one group at one event: the group's own
 * score (before any member is judged a bystander) and the evidence behind it.
 */
export interface GroupVerdict {
  readonly scope: GroupScope;
  /** The tenant id, the CIDR of the network, or the geometry group's id (`geo:<model>:<group>`). */
  readonly subject: string;
  readonly model: string;
  /** Event time of the reading. */
  readonly ts: number;
  readonly score: number;
  /** Members active in the group's window. */
  readonly keys: number;
  evidence(): string;
}

/** What a detector may use besides the key's own state. */
export interface DetectorContext {
  /**
   * State shared by every key of one aggregate entity — a client IP
   * (`ip:…`), an IP prefix (`prefix:…`), a tenant (`tenant:…`) — created on
   * first use, snapshotted like key state. Namespaced per detector.
   */
  aggregate<T>(entity: string, init: () => T): T;
  /** Batched vector kernels on the chosen TensorFlow.js backend. */
  readonly compute: Compute;
  /**
   * The model's reference — "the model's traffic": members sampled through one feed gate, frozen
   * within an event-time epoch, with their answers' statistics and an exact neighbour index — shared
   * by every detector and built once per batch by the pipeline. Null before the model's first query.
   */
  reference(model: string): ModelReference | null;
  /** The aggregate stage, when it runs apart (`aggregateStage.enabled`): cross-key detectors pool there, not here. */
  readonly entityStage?: EntityStageLink;
}

/**
 * A detector: sees a key's events and state, returns a score in [0,1] with
 * evidence. Detectors run in event time (`event.ts`), never the wall clock,
 * so replay is deterministic.
 */
export interface Detector<S = unknown> {
  readonly name: string;
  /**
   * `rate` detectors (volume) measure how much a key calls, not how it
   * probes: fusion lets them raise risk only up to their own score, never
   * compound with behavioural evidence, so an honest heavy user at the rate
   * limit is throttled like a rate limiter would, not truncated.
   * Default `behaviour`.
   */
  readonly kind?: 'rate' | 'behaviour';
  /**
   * The family of evidence the detector's score belongs to. Fusion lets only
   * the strongest member of a family speak, so one fact restated by several
   * detectors counts once. Default: `rate` for rate detectors, else `output`.
   */
  readonly family?: EvidenceFamily;
  /** The whole score is an extraction-specific signature (see `DetectorOutput.signature`). */
  readonly signature?: boolean;
  /** Fresh per-key state. */
  initState(): S;
  /** Processes one poll's events, grouped by key; returns one output per group, same order. */
  processBatch(groups: readonly KeyGroup<S>[], ctx: DetectorContext): DetectorOutput[];
  /**
   * Cross-key detectors: the readings of groups during the last `processBatch`, in event-time order,
   * each only when the group's score changed. The pipeline turns them into group decisions (advisory:
   * a member is raised only on its own evidence).
   */
  groupVerdicts?(): readonly GroupVerdict[];
}

/**
 * A detector's registry entry: its name, its config schema with defaults
 * (every threshold lives here, never as a constant in code), and a factory.
 */
export interface DetectorDefinition<C = any, S = any> {
  readonly name: string;
  readonly description: string;
  readonly configSchema: z.ZodType<C>;
  create(config: C): Detector<S>;
}
