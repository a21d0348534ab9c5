import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { LEVELS } from '../../src/contract.ts';
import { ProbewatchError } from '../../src/errors.ts';
import { enforcementOptionsSchema } from '../../src/gateway/enforce/enforcementOptions.ts';

const ms = z.number().int().nonnegative();

/** An API key id as it appears in events and in probewatch's allowlist (never the secret). */
export const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The example gateway's own settings. Kafka and Redis come from probewatch's
 * config file (same topics, key prefix and channel); API key secrets and the
 * HMAC key come from the environment only.
 */
export const gatewayConfigSchema = z
  .object({
    http: z
      .object({
        host: z.string().default('127.0.0.1'),
        /** 0 picks a free port; the bound port is logged. */
        port: z.number().int().min(0).max(65_535).default(8080),
        maxBodyBytes: z.number().int().positive().default(4_096),
      })
      .strict()
      .prefault({}),
    model: z
      .object({
        /** The path segment of `/v1/models/<id>/predict` and the events' `model_id`. */
        id: z.string().regex(KEY_ID).default('seattle-weather'),
        /** Seeds the data split, the weights and the shuffle: the same seed trains the same model. */
        seed: z.number().int().default(1),
        /** The quality benchmark's full-size victim: MLP 32-32 seeing about 40,000 examples. */
        hidden: z.array(z.number().int().positive()).min(1).default([32, 32]),
        passes: z.number().int().positive().default(40_000),
      })
      .strict()
      .prefault({}),
    /** The key table: ids and tenants. Each id's secret is in `GATEWAY_API_KEYS`. */
    keys: z
      .array(
        z
          .object({
            id: z.string().regex(KEY_ID, 'expected 1-64 characters of A-Z a-z 0-9 . _ -'),
            tenant: z.string().min(1).nullable().default(null),
          })
          .strict(),
      )
      .min(1),
    /**
     * The input sketch: every gateway of a deployment uses the same width. Its
     * projection is keyed by the HMAC key; `seed` opts out to a public-seed
     * projection, which anyone who knows the seed can invert when the model
     * has no more features than the width (a warning is logged at start).
     */
    sketch: z
      .object({
        width: z.number().int().min(1).max(64).default(16),
        seed: z.number().int().nonnegative().optional(),
      })
      .strict()
      .prefault({}),
    decisions: z
      .object({
        /** When Redis has been unreachable past the grace: keep serving (`open`) or apply `closedLevel`. */
        onUnavailable: z.enum(['open', 'closed']).default('open'),
        closedLevel: z.enum(LEVELS).default('block'),
        unavailableAfterMs: ms.default(3_000),
      })
      .strict()
      .prefault({}),
    /** How each level is applied (the SDK enforcer's settings: throttle rate, truncation mode, deception). */
    enforcement: enforcementOptionsSchema.prefault({}),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  })
  .strict();

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;

/** Environment variables overriding single settings. */
const ENV_ALIASES: Record<string, [string, string?]> = {
  GATEWAY_HOST: ['http', 'host'],
  GATEWAY_PORT: ['http', 'port'],
  GATEWAY_LOG_LEVEL: ['logLevel'],
};

/** Reads the gateway's YAML file, applies `GATEWAY_HOST`, `GATEWAY_PORT`, `GATEWAY_LOG_LEVEL`, validates. */
export function loadGatewayConfig(file: string, env: Record<string, string | undefined>): Readonly<GatewayConfig> {
  let doc: Record<string, Record<string, unknown>>;
  try {
    doc = parseYaml(readFileSync(file, 'utf8')) ?? {};
  } catch (cause) {
    throw new ProbewatchError('PW_CONFIG', `cannot read gateway config ${file}: ${(cause as Error).message}`, { cause });
  }
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ProbewatchError('PW_CONFIG', `${file}: the top level must be a mapping`);
  for (const [name, [section, key]] of Object.entries(ENV_ALIASES)) {
    const raw = env[name];
    if (raw === undefined) continue;
    const value = parseYaml(raw) as unknown;
    if (key) doc[section] = { ...doc[section], [key]: value };
    else (doc as Record<string, unknown>)[section] = value;
  }
  const result = gatewayConfigSchema.safeParse(doc);
  if (!result.success) throw new ProbewatchError('PW_CONFIG', `${file} is invalid:\n${z.prettifyError(result.error)}`);
  return Object.freeze(result.data);
}
