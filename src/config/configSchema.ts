import { calibrationSchema } from '../calibration/PeerCalibration.ts';
import { computeSchema } from '../compute/kernelChoice.ts';
import { z } from 'zod';
import { DETECTORS } from '../../detectors/index.ts';
import { DEFAULT_EVENT_LIMITS } from '../codec/validateEvent.ts';
import { LEVELS } from '../contract.ts';
import { DEFAULT_GATE_LIMITS } from '../pipeline/EventGate.ts';
import { checkFusionAgainstConfig, fusionSchema } from '../fusion/fusionSchema.ts';
import { successionSchema } from '../fusion/KeySuccession.ts';
import { referenceSchema } from '../baselines/referenceSchema.ts';

const ms = z.number().int().nonnegative();
/** Longest interval between two snapshots of the keys (`state.snapshotEveryMs`). */
const SNAPSHOT_EVERY_MAX_MS = 600_000;
/** Default `state.packAfterIdleMs`: see its schema. */
const PACK_AFTER_IDLE_MS = 600_000;
const unit = z.number().min(0).max(1);

/** PEM files for a TLS client: a private CA, and a client certificate and key for mutual TLS. */
const tlsFilesSchema = z
  .object({
    ca: z.string().min(1).optional(),
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    /** Host name to verify the server certificate against, when it differs from the address dialled. */
    servername: z.string().min(1).optional(),
    /** Verify the server certificate (turn off only to debug). */
    rejectUnauthorized: z.boolean().default(true),
  })
  .strict()
  .refine((t) => (t.cert === undefined) === (t.key === undefined), { message: 'cert and key go together (mutual TLS needs both)' });

const kafkaSchema = z
  .object({
    brokers: z.array(z.string().min(1)).min(1).default(['127.0.0.1:9092']),
    clientId: z.string().min(1).default('probewatch'),
    groupId: z.string().min(1).default('probewatch'),
    topics: z
      .object({
        events: z.string().min(1).default('probewatch.events'),
        risk: z.string().min(1).default('probewatch.risk'),
        decisions: z.string().min(1).default('probewatch.decisions'),
        dlq: z.string().min(1).default('probewatch.dlq'),
        /** Repartition topic: per-event facts of the aggregate views, keyed by entity (`aggregateStage.enabled` only). */
        aggregateFacts: z.string().min(1).default('probewatch.aggregate-facts'),
        /** The aggregate stage's readings of each entity, keyed by entity and model, read by every instance (compact it). */
        groupEvidence: z.string().min(1).default('probewatch.group-evidence'),
      })
      .strict()
      .prefault({}),
    /** Confluent schema id written on outgoing Avro messages. */
    schemaId: z.number().int().min(0).default(1),
    /** SASL mechanism; the username and password come from the environment only. */
    sasl: z.enum(['none', 'plain', 'scram-sha-256', 'scram-sha-512']).default('none'),
    /**
     * TLS to the brokers: `true` (system CAs), or PEM file paths for a private
     * CA and a client certificate (mutual TLS). The paths may also come from
     * PROBEWATCH_KAFKA_SSL_CA_FILE / _CERT_FILE / _KEY_FILE, the key's
     * passphrase only from PROBEWATCH_KAFKA_SSL_KEY_PASSPHRASE (or …_FILE).
     */
    ssl: z.union([z.boolean(), tlsFilesSchema]).default(false),
    sessionTimeoutMs: ms.default(30_000),
  })
  .strict();

/**
 * The aggregate views (tenant, network prefix, geometry group) as a second,
 * entity-keyed stage: off (default), each instance pools the keys of the
 * partitions it owns; on, the per-key stage publishes facts to
 * `kafka.topics.aggregateFacts`, and every `probewatch run` also runs the
 * aggregate stage for the fact partitions its `groupId` gives it.
 */
const aggregateStageSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** The aggregate stage's consumer group (default `<kafka.groupId>-aggregates`). */
    groupId: z.string().min(1).optional(),
  })
  .strict();

const redisSchema = z
  .object({
    url: z.string().min(1).default('redis://127.0.0.1:6379'),
    keyPrefix: z.string().default('pw:'),
    /** Pub/sub channel announcing every decision change. */
    decisionChannel: z.string().min(1).default('pw:decisions'),
    /** How often the decision store is checked for lost data (besides every reconnection); found empty, live decisions are re-published. */
    decisionStoreCheckMs: z.number().int().positive().default(5_000),
    /** TLS to Redis (also implied by a `rediss://` URL): PEM paths as for `kafka.ssl`. */
    tls: tlsFilesSchema.optional(),
  })
  .strict();

const httpSchema = z
  .object({
    /** Loopback unless set: /metrics and /healthz are for the local scraper and probes (set 0.0.0.0 in a container). */
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65_535).default(9464),
  })
  .strict();

const healthSchema = z
  .object({
    /** /healthz fails once no batch completed for this long while input waits. */
    stallAfterMs: z.number().int().positive().default(60_000),
    /** How often the consumer lag is read from the broker's high watermarks. */
    lagEveryMs: z.number().int().positive().default(5_000),
    /** A call to Redis or Kafka waiting this long is logged (once) as a stuck dependency. */
    stuckAfterMs: z.number().int().positive().default(10_000),
  })
  .strict();

const stateSchema = z
  .object({
    /**
     * Most keys held in memory; past it the least recently used key not in
     * the batch in hand is evicted (counted in a metric; `run` reloads it from
     * its snapshot). A key's state grows with its history: bytes per key and
     * the ceiling this default sets are in README "Limits" (memory budget).
     */
    maxKeys: z.number().int().positive().default(20_000),
    /** A key with no event for this long (event time) is evicted. */
    idleEvictMs: ms.default(35 * 24 * 3_600_000),
    /**
     * A key with no event for this long (event time, against the latest
     * event seen) is held in memory packed, its whole state one compressed
     * byte string, until its next event (or anything else that reads it)
     * unpacks it; a key that paused past it before, only once quiet well
     * past its usual pause (`KeyPauses`); 0 never packs. Packing is lossless, so the detection
     * output is the same whatever the setting; it trades the CPU of a pack
     * and an unpack (a fraction of a millisecond) per quiet spell for most
     * of a quiet key's memory (README "Memory budget").
     */
    packAfterIdleMs: ms.default(PACK_AFTER_IDLE_MS),
    /**
     * Most aggregate entities held in memory per kind (`ip:…`, `prefix:…`,
     * `tenant:…`, `model:…`, `geo:…`; `other` for any other kind); past it
     * the least recently used of the kind is dropped (counted in
     * `probewatch_aggregate_entities_evicted_total`). Byte ceilings per kind:
     * README "Limits".
     */
    maxEntities: z
      .object({
        ip: z.number().int().positive().default(50_000),
        prefix: z.number().int().positive().default(10_000),
        tenant: z.number().int().positive().default(2_000),
        model: z.number().int().positive().default(256),
        geo: z.number().int().positive().default(2_000),
        other: z.number().int().positive().default(1_000),
      })
      .strict()
      .prefault({}),
    /** Recent event ids remembered per key to drop duplicates. */
    dedupWindow: z.number().int().min(0).default(256),
    /** Snapshot TTL in Redis. */
    snapshotTtlMs: ms.default(35 * 24 * 3_600_000),
    /**
     * Keys changed since the last snapshot are snapshotted together at most
     * this often (wall clock), and offsets are committed only up to what a
     * snapshot holds; 0 snapshots after every batch. A crash reads again
     * what the last snapshot lacks (exactly: the offsets in the snapshots
     * skip the rest), so the interval bounds the work redone, not the
     * correctness.
     */
    snapshotEveryMs: ms.max(SNAPSHOT_EVERY_MAX_MS, `state.snapshotEveryMs must be at most ${SNAPSHOT_EVERY_MAX_MS} ms (10 minutes): offsets are committed only at snapshots, so a longer interval holds commits back that long`).default(1_000),
    /**
     * Most share of the time snapshots may take while batches keep coming
     * (a backlog): a snapshot that took d ms puts the next at least d /
     * share ms after it began, stretching `snapshotEveryMs` up to tenfold;
     * 1 never stretches it. When no batch comes, `snapshotEveryMs` alone
     * applies. Like the interval, it bounds work redone after a crash, not
     * the exactness.
     */
    snapshotShare: z.number().gt(0, 'state.snapshotShare must be above 0 (1 never stretches the snapshot interval)').max(1).default(0.1),
    /**
     * Aggregate entities (a model's baselines, pooled views per tenant,
     * network prefix and geometry group) are snapshotted to Redis at most
     * this often (wall clock), and loaded when an instance starts.
     */
    aggregates: z
      .object({
        snapshotEveryMs: ms.default(10_000),
        /** Entity name prefixes to snapshot (per-client-IP windows are short-lived and many: not by default). */
        entities: z.array(z.string().min(1)).default(['model:', 'tenant:', 'prefix:', 'geo:']),
      })
      .strict()
      .prefault({}),
  })
  .strict();

const length = z.number().int().positive();

/** What an event may hold and when it may arrive; an event outside these is dead-lettered with a reason. */
const inputSchema = z
  .object({
    maxEventIdLength: length.default(DEFAULT_EVENT_LIMITS.maxEventIdLength),
    maxApiKeyLength: length.default(DEFAULT_EVENT_LIMITS.maxApiKeyLength),
    maxModelIdLength: length.default(DEFAULT_EVENT_LIMITS.maxModelIdLength),
    maxTenantLength: length.default(DEFAULT_EVENT_LIMITS.maxTenantLength),
    maxClientIpLength: length.default(DEFAULT_EVENT_LIMITS.maxClientIpLength),
    maxEnforcementLength: length.default(DEFAULT_EVENT_LIMITS.maxEnforcementLength),
    /** Widest input_sketch; a model's width is further fixed by its first events. */
    maxSketchWidth: length.default(DEFAULT_EVENT_LIMITS.maxSketchWidth),
    /** Most classes in output_probs; a model's count is further fixed by its first events. */
    maxClasses: length.default(DEFAULT_EVENT_LIMITS.maxClasses),
    /** |Σ output_probs − 1| allowed. */
    probsTolerance: z.number().min(0).max(1).default(DEFAULT_EVENT_LIMITS.probsTolerance),
    statusMin: z.number().int().default(DEFAULT_EVENT_LIMITS.statusMin),
    statusMax: z.number().int().default(DEFAULT_EVENT_LIMITS.statusMax),
    /** An event this far behind the latest event time of its partition is late (0: no check). */
    maxLatenessMs: ms.default(DEFAULT_GATE_LIMITS.maxLatenessMs),
    /** An event this far ahead of the wall clock is from the future (0: no check). */
    maxFutureMs: ms.default(DEFAULT_GATE_LIMITS.maxFutureMs),
  })
  .strict();

const LADDER_STEPS = ['observe', 'throttle', 'truncate', 'deceive', 'block'] as const;

/** One value per ladder step (above allow), each with its default. */
function perStep<T extends z.ZodType>(value: T, defaults: Record<(typeof LADDER_STEPS)[number], z.input<T>>) {
  const withDefaults = Object.fromEntries(LADDER_STEPS.map((l) => [l, value.default(defaults[l] as never)]));
  const bare = Object.fromEntries(LADDER_STEPS.map((l) => [l, value.optional()]));
  return {
    /** Every step present, defaults filled in. */
    full: withDefaults as { [K in (typeof LADDER_STEPS)[number]]: z.ZodDefault<T> },
    /** Any subset, nothing filled in (overrides). */
    partial: bare as { [K in (typeof LADDER_STEPS)[number]]: z.ZodOptional<T> },
  };
}

const thresholdShape = perStep(unit, { observe: 0.3, throttle: 0.5, truncate: 0.7, deceive: 0.85, block: 0.97 });
const ttlShape = perStep(ms, { observe: 3_600_000, throttle: 3_600_000, truncate: 6 * 3_600_000, deceive: 24 * 3_600_000, block: 24 * 3_600_000 });

/** The ladder's thresholds must not decrease from observe up to block. */
export function thresholdsAscend(t: Record<'observe' | 'throttle' | 'truncate' | 'deceive' | 'block', number>): boolean {
  return t.observe <= t.throttle && t.throttle <= t.truncate && t.truncate <= t.deceive && t.deceive <= t.block;
}

const ASCEND_MESSAGE = 'thresholds must not decrease along the ladder observe <= throttle <= truncate <= deceive <= block';

const levelThresholds = z.object(thresholdShape.full).strict().refine(thresholdsAscend, { message: ASCEND_MESSAGE });

/** An instant: epoch milliseconds or an ISO-8601 date-time, compared with event time. */
const instant = z.union([
  ms,
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
  z.iso.date().transform((s) => Date.parse(`${s}T00:00:00Z`)),
]);

/** A key never escalated, whatever its score: a bare key id (for good) or with an expiry. */
const allowlistEntry = z.union([
  z.string().min(1).transform((key) => ({ key, until: Number.POSITIVE_INFINITY, reason: '' })),
  z
    .object({
      key: z.string().min(1),
      /** Event time after which the entry no longer protects the key (epoch ms or ISO date-time). */
      until: instant.optional(),
      /** Who allowed it and why, for the audit trail. */
      reason: z.string().default(''),
    })
    .strict()
    .transform((e) => ({ key: e.key, until: e.until ?? Number.POSITIVE_INFINITY, reason: e.reason })),
]);

const repeatOffendersSchema = z
  .object({
    /** Reaching this level (from below it) counts as an offence. */
    offenceLevel: z.enum(LEVELS).default('truncate'),
    /** Offences older than this (event time) are forgotten. */
    windowMs: ms.default(30 * 24 * 3_600_000),
    /** Every earlier offence in the window lowers each threshold by this much… */
    thresholdStep: unit.default(0.05),
    /** …for at most this many offences. */
    maxSteps: z.number().int().min(0).max(10).default(3),
    /** …and multiplies each level's TTL by this factor. */
    ttlFactor: z.number().min(1).max(10).default(2),
  })
  .strict();

/**
 * A key that goes on calling while held at a level: truncation takes the
 * probabilities from a thief, not the labels, so a label-trained copy
 * loses nothing to it. A key that made `calls` calls at `fromLevel` or
 * above steps up one rung, up to `toLevel`, at its next call the risk still
 * holds its level at.
 */
const persistenceSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** The lowest level whose calls are counted. */
    fromLevel: z.enum(LEVELS).default('truncate'),
    /** Calls made at a level before the key steps up a rung (at a call its risk holds the level at). */
    calls: z.number().int().positive().default(100),
    /** The highest level persistence alone may reach (the policy's `maxLevel` caps it too). */
    toLevel: z.enum(LEVELS).default('deceive'),
  })
  .strict()
  .refine((p) => LEVELS.indexOf(p.fromLevel) < LEVELS.indexOf(p.toLevel), { message: 'fromLevel must be below toLevel on the ladder allow < observe < throttle < truncate < deceive < block', path: ['toLevel'] });

/** What a tenant may override; unset keys inherit the global policy. */
const tenantPolicySchema = z
  .object({
    thresholds: z.object(thresholdShape.partial).strict().optional(),
    hysteresis: unit.optional(),
    ttlMs: z.object(ttlShape.partial).strict().optional(),
    maxLevel: z.enum(LEVELS).optional(),
    shadow: z.boolean().optional(),
  })
  .strict();

const policySchema = z
  .object({
    thresholds: levelThresholds.prefault({}),
    /** A key steps down only once its risk is this far below the threshold of its level. */
    hysteresis: unit.default(0.1),
    /** How long a decision stays in force (and its least dwell time) per level. */
    ttlMs: z.object(ttlShape.full).strict().prefault({}),
    /**
     * How a level lapses once its TTL has run and the risk no longer holds it:
     * `stepwise` goes down one rung, which then dwells its own TTL; `direct`
     * drops at once to the level the risk supports.
     */
    decay: z.enum(['stepwise', 'direct']).default('stepwise'),
    /** Highest level probewatch may decide; keeps `block` for humans by default. */
    maxLevel: z.enum(LEVELS).default('deceive'),
    /** Decisions are computed and published but marked not to be enforced. */
    shadow: z.boolean().default(false),
    /** Keys never escalated, whatever their score: key ids, or `{ key, until, reason }` entries that lapse. */
    allowlist: z.array(allowlistEntry).default([]),
    /** Keys that offend again within a window meet lower thresholds and longer TTLs. */
    repeatOffenders: repeatOffendersSchema.prefault({}),
    /** Keys that go on calling under a response step up, one rung per `calls` calls. */
    persistence: persistenceSchema.prefault({}),
    /** Per-tenant overrides of thresholds, hysteresis, TTLs, maxLevel and shadow. */
    tenants: z.record(z.string().min(1), tenantPolicySchema).default({}),
    /**
     * Group decisions: each group a cross-key detector reads (tenant, network prefix, geometry group)
     * climbs its own ladder on its pooled score and is published once it reaches `minLevel`, marked
     * `group` (advisory: gateways do not apply it to members).
     */
    groupDecisions: z
      .object({
        enabled: z.boolean().default(true),
        minLevel: z.enum(LEVELS).default('throttle'),
        maxGroups: z.number().int().positive().default(4_096),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((policy, ctx) => {
    for (const [tenant, over] of Object.entries(policy.tenants)) {
      if (!over.thresholds) continue;
      if (!thresholdsAscend({ ...policy.thresholds, ...over.thresholds })) {
        ctx.addIssue({ code: 'custom', path: ['tenants', tenant, 'thresholds'], message: `${ASCEND_MESSAGE} (after applying tenant '${tenant}' over the global thresholds)` });
      }
    }
  });

const publishSchema = z
  .object({
    /** Besides level changes, publish a key's RiskScore every this many of its events (0 = only changes). */
    riskEveryEvents: z.number().int().min(0).default(100),
  })
  .strict();

/** Hot reload: SIGHUP always re-reads the config; `watch` also reloads when the file changes. */
const reloadSchema = z
  .object({
    /** Reload when the config file changes (its modification time, polled), besides on SIGHUP. */
    watch: z.boolean().default(false),
    /** How often the watched file is checked. */
    watchIntervalMs: z.number().int().min(100).default(1_000),
  })
  .strict();

/** Alerts to a SIEM when a key reaches `minLevel` or above; the webhook's auth header value comes from the environment only. */
const alertsSchema = z
  .object({
    /** An alert goes out each time a key rises to this level or above it. */
    minLevel: z.enum(LEVELS).refine((l) => l !== 'allow', { message: "must be a level above 'allow'" }).default('truncate'),
    webhook: z
      .object({
        /** HTTP(S) endpoint receiving one JSON POST per alert; unset = no webhook. */
        url: z.url({ protocol: /^https?$/ }).optional(),
        /** Header carrying the value of PROBEWATCH_ALERT_WEBHOOK_AUTH, when that variable is set. */
        authHeader: z.string().min(1).default('authorization'),
        timeoutMs: z.number().int().positive().default(5_000),
      })
      .strict()
      .prefault({}),
    /** Kafka topic receiving each alert as JSON keyed by api_key; unset = none. */
    topic: z.string().min(1).optional(),
    /** Alerts waiting per destination; past it the oldest waiting one is dropped (counted). */
    queueSize: z.number().int().positive().default(1_000),
    /** Delivery retries: exponential backoff with jitter from `baseMs` up to `maxMs`, at most `maxAttempts` tries. */
    retry: z
      .object({
        baseMs: z.number().int().positive().default(500),
        maxMs: z.number().int().positive().default(60_000),
        maxAttempts: z.number().int().positive().default(10),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** Each detector's config section, with `enabled` and fusion `weight`, from the registry. */
function detectorsSchema() {
  const shape: Record<string, z.ZodType> = {};
  for (const def of DETECTORS) {
    const common = z.object({
      enabled: z.boolean().default(true),
      weight: unit.default(1),
      /** Scored and published, but kept out of the risk that decisions are enforced on (see Decision.shadow_level). */
      shadow: z.boolean().default(false),
    });
    const inner = def.configSchema as unknown as z.ZodObject;
    shape[def.name] = common.extend(inner.shape).strict().prefault({});
  }
  return z.object(shape).strict().prefault({});
}

export const configSchema = z
  .object({
    kafka: kafkaSchema.prefault({}),
    redis: redisSchema.prefault({}),
    aggregateStage: aggregateStageSchema.prefault({}),
    http: httpSchema.prefault({}),
    health: healthSchema.prefault({}),
    state: stateSchema.prefault({}),
    input: inputSchema.prefault({}),
    detectors: detectorsSchema(),
    /** The per-model reference the detectors share, and its feed gate. */
    reference: referenceSchema,
    /** How detector scores become one risk: `noisy-or` (default) or a fitted `logistic` model. */
    fusion: fusionSchema.prefault({}),
    /** A fresh key that takes over a flagged key's campaign carries its risk (key rotation). */
    succession: successionSchema.prefault({}),
    /** Peer calibration of behavioural scores against the model's other keys of similar volume. */
    calibration: calibrationSchema.prefault({}),
    policy: policySchema.prefault({}),
    publish: publishSchema.prefault({}),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    reload: reloadSchema.prefault({}),
    alerts: alertsSchema.prefault({}),
    /** Where the vector kernels run (plain JavaScript or TensorFlow.js), per kernel. */
    compute: computeSchema,
  })
  .strict()
  .superRefine(checkFusionAgainstConfig);

export type Config = z.output<typeof configSchema>;
