import { z } from 'zod';

const int = () => z.number().int();
const share = () => z.number().gt(0).max(1);

/**
 * The feed gate of a model's reference: which keys' queries may shape "the
 * model's traffic", and how much of it any one key, network or tenant may
 * be. Attackers poison baselines: many short-lived keys sending random
 * queries, or a few keys flooding one epoch, must not move the reference.
 */
export const referenceGateSchema = z
  .object({
    /** Off, every answered query with a sketch feeds the reference, uniformly sampled (for tests and comparison only). */
    enabled: z.boolean().default(true),
    /**
     * A key's answered queries feed only from its `minKeyEvents + 1`-th on: short-lived keys never shape the
     * reference. As many as off-manifold needs for its full judgement (its `minEvents`), so a key feeds only
     * once it could have been judged: a key of random queries is scored (and so kept out by
     * `excludeAboveScore`) before its first query could have moved the reference it is judged against.
     */
    minKeyEvents: int().min(0).default(50),
    /** A key that any behavioural detector scores at least this much, as of the query, does not feed. */
    excludeAboveScore: z.number().min(0).max(1).default(0.3),
    /** Most queries one key offers per epoch. */
    perKeyEpochCap: int().positive().default(50),
    /**
     * Most of the reference one key, one network (/24 or /64) and one tenant may hold, as shares of
     * `size`. A cap gives way only where nobody else can fill the reference (a deployment with one
     * tenant, or with all its users behind one address), and is restored as soon as others can.
     */
    keyShare: share().default(0.05),
    networkShare: share().default(0.1),
    tenantShare: share().default(0.25),
    /**
     * Most of the top of the members' own statistics (the tail a threshold such as `off-manifold`'s minor
     * test reads) one key, network or tenant may hold, as a share of it. Looser than the caps on the
     * members: honest keys of unusual habits legitimately hold a good part of a tail (a batch scorer of a
     * wide sample, say), but no one of them may set it alone.
     */
    tailShare: share().default(0.5),
    /**
     * Long-lived keys are preferred: a query's weight in the epoch's weighted sample grows with its
     * key's age (event time since its first query) up to 1 at `matureMs`, from `minWeight`.
     */
    matureMs: int().positive().default(3_600_000),
    minWeight: z.number().gt(0).max(1).default(0.1),
  })
  .strict()
  .prefault({});

/** The per-model reference shared by the detectors that compare a key with "the model's traffic". */
export const referenceSchema = z
  .object({
    /** Sketch coordinates kept (a prefix of a random projection is itself one). */
    dim: int().min(2).max(64).default(8),
    /**
     * Sketch coordinates each member keeps, at least `dim`: all of them shape the model's covariance, whose
     * minor directions `off-manifold` tests (a prefix of the sketch; a gateway's narrower sketch keeps its own width).
     */
    width: int().min(2).max(64).default(16),
    /** Members per model. */
    size: int().min(16).max(4096).default(512),
    /** Event-time epoch: the reference is frozen within one, so an epoch's traffic is judged against earlier traffic only. */
    epochMs: int().positive().default(10 * 60_000),
    /** Share of the members replaced by each completed epoch's sample. */
    alpha: z.number().gt(0).max(1).default(0.1),
    /** An epoch with fewer offered queries carries them over instead of being folded in. */
    minEpochSamples: int().positive().default(100),
    /** Offered queries (decayed like the members) and members the reference needs before it answers. */
    minSamples: int().positive().default(300),
    minMembers: int().min(2).default(32),
    /**
     * Members whose own nearest-neighbour distance exceeds this multiple of the median are dropped at
     * each fold: isolated points are what probing leaves behind.
     */
    trim: z.number().gt(1).default(4),
    /** Seed of the reference's random draws (deterministic: replay repeats itself). */
    seed: int().default(0x2545f491),
    gate: referenceGateSchema,
  })
  .strict()
  .prefault({});
export type ReferenceConfig = z.output<typeof referenceSchema>;
export type ReferenceGateConfig = z.output<typeof referenceGateSchema>;
