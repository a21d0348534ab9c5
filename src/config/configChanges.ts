import type { Config } from './configSchema.ts';

/**
 * Settings a running `probewatch run` takes on at a reload (dotted paths;
 * a path covers everything below it). Everything else — Kafka brokers,
 * topics and group, Redis, the HTTP listener, state bounds, the reload and
 * alert destinations — is wired into connections and stores at start-up,
 * so a change there waits for a restart.
 */
export const LIVE_SETTINGS = ['detectors', 'fusion', 'calibration', 'policy', 'publish', 'logLevel', 'alerts.minLevel'] as const;

/** What differs between two configs, split by whether it can be applied live. */
export interface ConfigChanges {
  /** Changed settings that a reload applies. */
  live: string[];
  /** Changed settings that need a restart (reported, not applied). */
  restart: string[];
}

/** The dotted paths of the leaves that differ (arrays compare as a whole). */
export function changedPaths(a: unknown, b: unknown, prefix = ''): string[] {
  if (isRecord(a) && isRecord(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].sort().flatMap((k) => changedPaths(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return sameValue(a, b) ? [] : [prefix || '(top level)'];
}

export function configChanges(current: Readonly<Config>, next: Readonly<Config>): ConfigChanges {
  const paths = changedPaths(current, next);
  const isLive = (p: string) => LIVE_SETTINGS.some((l) => p === l || p.startsWith(`${l}.`));
  return { live: paths.filter(isLive), restart: paths.filter((p) => !isLive(p)) };
}

/** `current` with the live settings taken from `next` (restart-only settings stay as they are running). */
export function withLiveSettings(current: Readonly<Config>, next: Readonly<Config>): Config {
  let out = { ...current } as Record<string, unknown>;
  for (const path of LIVE_SETTINGS) out = setIn(out, path.split('.'), getIn(next, path.split('.')));
  return out as Config;
}

function getIn(obj: unknown, path: string[]): unknown {
  return path.reduce<unknown>((node, k) => (isRecord(node) ? node[k] : undefined), obj);
}

/** A copy of `obj` with `path` set, sharing everything off the path. */
function setIn(obj: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = path;
  const child = obj[head];
  return { ...obj, [head]: rest.length === 0 ? value : setIn(isRecord(child) ? child : {}, rest, value) };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  // Arrays (brokers, allowlists) and Infinity-bearing entries: compare by content.
  return JSON.stringify(a, (_k, v) => (v === Infinity ? 'Infinity' : v)) === JSON.stringify(b, (_k, v) => (v === Infinity ? 'Infinity' : v));
}
