import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ProbewatchError } from '../errors.ts';
import { type Config, configSchema } from './configSchema.ts';

/** Environment variables understood besides the generic `PROBEWATCH__a__b=value` form. */
const ENV_ALIASES: Record<string, string[]> = {
  PROBEWATCH_KAFKA_BROKERS: ['kafka', 'brokers'],
  PROBEWATCH_KAFKA_GROUP: ['kafka', 'groupId'],
  PROBEWATCH_REDIS_URL: ['redis', 'url'],
  PROBEWATCH_HTTP_PORT: ['http', 'port'],
  PROBEWATCH_HTTP_HOST: ['http', 'host'],
  PROBEWATCH_SHADOW: ['policy', 'shadow'],
  PROBEWATCH_LOG_LEVEL: ['logLevel'],
};

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const segment of path.slice(0, -1)) {
    const next = node[segment];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[segment] = {};
    node = node[segment] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
}

/** An environment value: a comma list for list settings, else a YAML scalar (numbers, booleans). */
function envValue(path: string[], raw: string): unknown {
  if (path.join('.') === 'kafka.brokers' && !raw.trim().startsWith('[')) return raw.split(',').map((s) => s.trim()).filter(Boolean);
  return parseYaml(raw);
}

/** Applies environment overrides onto a parsed (not yet validated) config document. */
export function applyEnv(doc: Record<string, unknown>, env: Record<string, string | undefined>): Record<string, unknown> {
  const out = structuredClone(doc);
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined) continue;
    let path: string[] | undefined = ENV_ALIASES[name];
    if (!path && name.startsWith('PROBEWATCH__')) path = name.slice('PROBEWATCH__'.length).split('__').filter(Boolean);
    if (path && path.length > 0) setPath(out, path, envValue(path, raw));
  }
  return out;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const key = issue.path.length ? issue.path.join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    const keys = (issue as { keys: string[] }).keys;
    return `${key}: unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `'${k}'`).join(', ')}`;
  }
  return `${key}: ${issue.message}`;
}

/**
 * Validates a config document (already merged with the environment) and
 * returns it frozen. Errors name every bad key and what was expected.
 */
export function parseConfig(doc: unknown, source = 'config'): Readonly<Config> {
  const result = configSchema.safeParse(doc ?? {});
  if (!result.success) {
    const lines = result.error.issues.map(describeIssue);
    throw new ProbewatchError('PW_CONFIG', `${source} is invalid:\n  ${lines.join('\n  ')}`);
  }
  return deepFreeze(result.data);
}

/** Reads a YAML file (or none, for embedded defaults), applies the environment, validates. */
export function loadConfig(file: string | undefined, env: Record<string, string | undefined> = {}): Readonly<Config> {
  let doc: unknown = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      throw new ProbewatchError('PW_CONFIG', `cannot read config file ${file}: ${(cause as Error).message}`, { cause });
    }
    try {
      doc = parseYaml(text) ?? {};
    } catch (cause) {
      throw new ProbewatchError('PW_CONFIG', `${file} is not valid YAML: ${(cause as Error).message}`, { cause });
    }
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new ProbewatchError('PW_CONFIG', `${file}: the top level must be a mapping`);
  }
  return parseConfig(applyEnv(doc as Record<string, unknown>, env), file ?? 'embedded defaults');
}

/** sha256 of the settings that decide scores and levels, published as a metric. */
export function detectionConfigHash(config: Config): string {
  const canonical = JSON.stringify({ detectors: config.detectors, fusion: config.fusion, policy: config.policy }, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
  return createHash('sha256').update(canonical).digest('hex');
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
