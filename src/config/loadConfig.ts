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
function envValue(name: string, path: string[], raw: string): unknown {
  if (path.join('.') === 'kafka.brokers' && !raw.trim().startsWith('[')) return raw.split(',').map((s) => s.trim()).filter(Boolean);
  try {
    return parseYaml(raw);
  } catch (cause) {
    // The value itself is not repeated: it may be a secret (a Redis URL with a password).
    throw new ProbewatchError('PW_CONFIG', `environment variable ${name} (${path.join('.')}) is not a valid value: ${(cause as Error).message.split('\n')[0]}`, { cause });
  }
}

/** The config paths the environment sets, by dotted path, with the variable that sets each. */
export function envOverrides(env: Record<string, string | undefined>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined) continue;
    const path = envPath(name);
    if (path) out.set(path.join('.'), name);
  }
  return out;
}

function envPath(name: string): string[] | undefined {
  let path: string[] | undefined = ENV_ALIASES[name];
  if (!path && name.startsWith('PROBEWATCH__')) path = name.slice('PROBEWATCH__'.length).split('__').filter(Boolean);
  return path && path.length > 0 ? path : undefined;
}

/** Applies environment overrides onto a parsed (not yet validated) config document. */
export function applyEnv(doc: Record<string, unknown>, env: Record<string, string | undefined>): Record<string, unknown> {
  const out = structuredClone(doc);
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined) continue;
    const path = envPath(name);
    if (path) setPath(out, path, envValue(name, path, raw));
  }
  return out;
}

/** The variable behind an issue: one that sets the issue's key, a key below it, or a key above it. */
function envVariableFor(issue: z.core.$ZodIssue, fromEnv: ReadonlyMap<string, string>): string | undefined {
  const key = issue.path.join('.');
  const keys = issue.code === 'unrecognized_keys' ? (issue as { keys: string[] }).keys.map((k) => (key ? `${key}.${k}` : k)) : [key];
  for (const [path, name] of fromEnv) {
    if (keys.some((k) => k === path || k.startsWith(`${path}.`) || (issue.code !== 'unrecognized_keys' && path.startsWith(`${k}.`)))) return name;
  }
  return undefined;
}

function describeIssue(issue: z.core.$ZodIssue, variable?: string): string {
  const key = issue.path.length ? issue.path.join('.') : '(top level)';
  const where = variable ? `environment variable ${variable} (${key})` : key;
  if (issue.code === 'unrecognized_keys') {
    const keys = (issue as { keys: string[] }).keys;
    return `${where}: unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `'${k}'`).join(', ')}`;
  }
  return `${where}: ${issue.message}`;
}

/**
 * Validates a config document (already merged with the environment) and
 * returns it frozen. Errors name every bad key and what was expected; a bad
 * value set by an environment variable (`fromEnv`, see `envOverrides`) is
 * reported against that variable, not the file.
 */
export function parseConfig(doc: unknown, source = 'config', fromEnv: ReadonlyMap<string, string> = new Map()): Readonly<Config> {
  const result = configSchema.safeParse(doc ?? {});
  if (!result.success) {
    const variables = result.error.issues.map((issue) => envVariableFor(issue, fromEnv));
    const lines = result.error.issues.map((issue, i) => describeIssue(issue, variables[i]));
    const header = variables.every(Boolean) ? 'the environment overrides are invalid' : `${source} is invalid`;
    throw new ProbewatchError('PW_CONFIG', `${header}:\n  ${lines.join('\n  ')}`);
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
  return parseConfig(applyEnv(doc as Record<string, unknown>, env), file ?? 'embedded defaults', envOverrides(env));
}

/** sha256 of the settings that decide scores and levels, published as a metric. */
export function detectionConfigHash(config: Config): string {
  const canonical = JSON.stringify({ detectors: config.detectors, reference: config.reference, fusion: config.fusion, calibration: config.calibration, policy: config.policy }, (_k, v) =>
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
