import type { KeyObject } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type SignedDecision, signDecision } from '../codec/decisionSignature.ts';
import { DECISION_SCOPES, type Decision, type DecisionScope, decisionSlot, LEVELS, type Level } from '../contract.ts';
import { ProbewatchError } from '../errors.ts';

export interface RedisDecisionStoreOptions {
  /** Prefix of every Redis key (config `redis.keyPrefix`); decisions live at `${keyPrefix}decision:${api_key}`. */
  keyPrefix: string;
  /** Pub/sub channel announcing every decision (config `redis.decisionChannel`). */
  channel: string;
  /** Wall clock deciding what is already expired; defaults to `Date.now`. */
  now?: () => number;
  /** Signs every decision (hash field `sig`, `sig` in the message) so gateways holding the key can tell forgeries. */
  signingKey?: KeyObject;
}

/** The Redis key holding `apiKey`'s decision. Gateways' decision readers use the same layout. */
export function decisionRedisKey(keyPrefix: string, apiKey: string): string {
  return `${keyPrefix}decision:${apiKey}`;
}

/** The Redis hash holding every manual decision (field: `decisionSlot`, value: the Decision as JSON); readers load it with the snapshot. */
export function manualDecisionsRedisKey(keyPrefix: string): string {
  return `${keyPrefix}manual`;
}

/** A decision's hash fields (`api_key` is in the key name; `shadow_level` and `sig` only when set). */
export function decisionToHash(d: Decision, sig?: string): Record<string, string> {
  const hash: Record<string, string> = { level: d.level, reason: d.reason, expires_at: String(d.expires_at), shadow: d.shadow ? '1' : '0' };
  if (d.shadow_level) hash.shadow_level = d.shadow_level;
  if (d.group) {
    hash.group = '1';
    hash.scope = d.scope ?? 'key';
  }
  if (sig) hash.sig = sig;
  return hash;
}

/** Reads back a decision hash (with its `sig`, when it has one); `undefined` when the hash is missing or not a decision. */
export function decisionFromHash(apiKey: string, hash: Record<string, string>): SignedDecision | undefined {
  const expiresAt = Number(hash.expires_at);
  if (!isLevel(hash.level) || !Number.isFinite(expiresAt)) return undefined;
  const d = withShadowLevel({ api_key: apiKey, level: hash.level, reason: hash.reason ?? '', expires_at: expiresAt, shadow: hash.shadow === '1' }, hash.shadow_level);
  if (hash.group === '1') {
    // A group decision lives under its slot, `group:<scope>:<subject>`.
    const scope = hash.scope as DecisionScope;
    const slot = `group:${scope}:`;
    if (!DECISION_SCOPES.includes(scope) || !apiKey.startsWith(slot)) return undefined;
    d.api_key = apiKey.slice(slot.length);
    d.group = true;
    if (scope !== 'key') d.scope = scope;
  }
  return withSig(d, hash.sig);
}

/** The JSON message announcing a decision on the channel (`sig` included when signed). */
export function decisionMessage(d: Decision, sig?: string): string {
  return JSON.stringify(sig ? { ...d, sig } : d);
}

/** Parses a pub/sub message of the decision channel (with its `sig`, when it has one); `undefined` when it is not a Decision. */
export function parseDecisionMessage(message: string): SignedDecision | undefined {
  let v: Partial<SignedDecision>;
  try {
    v = JSON.parse(message) as Partial<SignedDecision>;
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || typeof v.api_key !== 'string' || !isLevel(v.level)) return undefined;
  if (typeof v.expires_at !== 'number' || !Number.isFinite(v.expires_at)) return undefined;
  const d = withShadowLevel({ api_key: v.api_key, level: v.level, reason: typeof v.reason === 'string' ? v.reason : '', expires_at: v.expires_at, shadow: v.shadow === true }, v.shadow_level);
  if (v.manual === true) d.manual = true;
  if (v.group === true) d.group = true;
  if (v.scope !== undefined && v.scope !== 'key') {
    if (!DECISION_SCOPES.includes(v.scope as DecisionScope)) return undefined;
    d.scope = v.scope;
  }
  return withSig(d, v.sig);
}

function withSig(d: Decision, sig: unknown): SignedDecision {
  return typeof sig === 'string' && sig !== '' ? { ...d, sig } : d;
}

function isLevel(x: unknown): x is Level {
  return LEVELS.includes(x as Level);
}

function withShadowLevel(d: Decision, shadowLevel: unknown): Decision {
  if (isLevel(shadowLevel)) d.shadow_level = shadowLevel;
  return d;
}

/**
 * The Redis side of decision delivery: one hash per key
 * (`level`, `reason`, `expires_at`, `shadow`, and `sig` when signing) that Redis itself expires at
 * `expires_at`, plus a JSON Decision published on the channel, so a gateway
 * loads a snapshot at start and follows the deltas afterwards. Each
 * `publish` call is one MULTI transaction: a reader's snapshot never sees
 * half a batch, and the notifications follow the writes they announce.
 */
export class RedisDecisionStore {
  constructor(
    private readonly redis: Redis,
    private readonly opts: RedisDecisionStoreOptions,
  ) {}

  /**
   * Writes the decisions, in order, and announces each. A decision already
   * expired deletes the key's hash (and is still announced, so readers drop
   * it). Resolves once Redis has applied the whole transaction; failures are
   * retriable `PW_SINK` errors.
   */
  async publish(decisions: readonly Decision[]): Promise<void> {
    if (decisions.length === 0) return;
    const tx = this.redis.multi();
    const now = (this.opts.now ?? Date.now)();
    for (const d of decisions) {
      const key = decisionRedisKey(this.opts.keyPrefix, decisionSlot(d));
      const sig = this.opts.signingKey ? signDecision(this.opts.signingKey, d) : undefined;
      if (d.expires_at <= now) {
        tx.del(key);
      } else {
        tx.hset(key, decisionToHash(d, sig));
        // A field the new decision lacks must not survive from the old one.
        if (!d.shadow_level) tx.hdel(key, 'shadow_level');
        if (!d.group) tx.hdel(key, 'group', 'scope');
        if (!sig) tx.hdel(key, 'sig');
        tx.pexpireat(key, d.expires_at);
      }
      tx.publish(this.opts.channel, decisionMessage(d, sig));
    }
    let results: [Error | null, unknown][] | null;
    try {
      results = await tx.exec();
    } catch (cause) {
      throw new ProbewatchError('PW_SINK', `cannot store ${decisions.length} decisions in Redis: ${(cause as Error).message}`, { cause, retriable: true });
    }
    const failed = results?.find(([err]) => err) ?? (results ? undefined : [new Error('transaction discarded')]);
    if (failed) {
      throw new ProbewatchError('PW_SINK', `cannot store decisions in Redis: ${failed[0]!.message}`, { cause: failed[0], retriable: true });
    }
  }
}
