import { z } from 'zod';
import { DETECTORS } from '../../detectors/index.ts';
import { LEVELS } from '../contract.ts';

const ms = z.number().int().nonnegative();
const unit = z.number().min(0).max(1);

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
      })
      .strict()
      .prefault({}),
    /** Confluent schema id written on outgoing Avro messages. */
    schemaId: z.number().int().min(0).default(1),
    /** SASL mechanism; the username and password come from the environment only. */
    sasl: z.enum(['none', 'plain', 'scram-sha-256', 'scram-sha-512']).default('none'),
    ssl: z.boolean().default(false),
    sessionTimeoutMs: ms.default(30_000),
  })
  .strict();

const redisSchema = z
  .object({
    url: z.string().min(1).default('redis://127.0.0.1:6379'),
    keyPrefix: z.string().default('pw:'),
    /** Pub/sub channel announcing every decision change. */
    decisionChannel: z.string().min(1).default('pw:decisions'),
  })
  .strict();

const httpSchema = z
  .object({
    host: z.string().default('0.0.0.0'),
    port: z.number().int().min(0).max(65_535).default(9464),
  })
  .strict();

const stateSchema = z
  .object({
    /** Most keys held in memory; past it the idlest are evicted (counted in a metric). */
    maxKeys: z.number().int().positive().default(200_000),
    /** A key with no event for this long (event time) is evicted. */
    idleEvictMs: ms.default(35 * 24 * 3_600_000),
    /** Recent event ids remembered per key to drop duplicates. */
    dedupWindow: z.number().int().min(0).default(256),
    /** Snapshot TTL in Redis. */
    snapshotTtlMs: ms.default(35 * 24 * 3_600_000),
  })
  .strict();

const levelThresholds = z
  .object({
    observe: unit.default(0.3),
    throttle: unit.default(0.5),
    truncate: unit.default(0.7),
    deceive: unit.default(0.85),
    block: unit.default(0.97),
  })
  .strict()
  .refine((t) => t.observe <= t.throttle && t.throttle <= t.truncate && t.truncate <= t.deceive && t.deceive <= t.block, {
    message: 'thresholds must not decrease along the ladder observe <= throttle <= truncate <= deceive <= block',
  });

const levelTtl = z
  .object({
    observe: ms.default(3_600_000),
    throttle: ms.default(3_600_000),
    truncate: ms.default(6 * 3_600_000),
    deceive: ms.default(24 * 3_600_000),
    block: ms.default(24 * 3_600_000),
  })
  .strict();

const policySchema = z
  .object({
    thresholds: levelThresholds.prefault({}),
    /** A key steps down only once its risk is this far below the threshold of its level. */
    hysteresis: unit.default(0.1),
    /** How long a decision stays in force (and its least dwell time) per level. */
    ttlMs: levelTtl.prefault({}),
    /** Highest level probewatch may decide; keeps `block` for humans by default. */
    maxLevel: z.enum(LEVELS).default('deceive'),
    /** Decisions are computed and published but marked not to be enforced. */
    shadow: z.boolean().default(false),
    /** Keys never escalated, whatever their score. */
    allowlist: z.array(z.string()).default([]),
  })
  .strict();

const publishSchema = z
  .object({
    /** Besides level changes, publish a key's RiskScore every this many of its events (0 = only changes). */
    riskEveryEvents: z.number().int().min(0).default(100),
  })
  .strict();

/** Each detector's config section, with `enabled` and fusion `weight`, from the registry. */
function detectorsSchema() {
  const shape: Record<string, z.ZodType> = {};
  for (const def of DETECTORS) {
    const common = z.object({ enabled: z.boolean().default(true), weight: unit.default(1) });
    const inner = def.configSchema as unknown as z.ZodObject;
    shape[def.name] = common.extend(inner.shape).strict().prefault({});
  }
  return z.object(shape).strict().prefault({});
}

export const configSchema = z
  .object({
    kafka: kafkaSchema.prefault({}),
    redis: redisSchema.prefault({}),
    http: httpSchema.prefault({}),
    state: stateSchema.prefault({}),
    detectors: detectorsSchema(),
    policy: policySchema.prefault({}),
    publish: publishSchema.prefault({}),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  })
  .strict();

export type Config = z.output<typeof configSchema>;
