import type { KeyObject } from 'node:crypto';
import type { Redis } from 'ioredis';
import { signatureProblem, signDecision } from '../codec/decisionSignature.ts';
import { type Decision, type DecisionScope, decisionSlot } from '../contract.ts';
import { ProbewatchError } from '../errors.ts';
import { decisionMessage, manualDecisionsRedisKey, parseDecisionMessage } from './RedisDecisionStore.ts';

export interface ManualDecisionStoreOptions {
  /** Config `redis.keyPrefix`: manual decisions live in the hash `${keyPrefix}manual`. */
  keyPrefix: string;
  /** Config `redis.decisionChannel`: every change is announced there, as the pipeline's are. */
  channel: string;
  now?: () => number;
  /**
   * The decision-signing key (PROBEWATCH_DECISION_KEY): set, every stored or
   * announced decision carries its HMAC like the pipeline's, and decisions
   * read back without a valid one are ignored.
   */
  signingKey?: KeyObject;
}

/**
 * Analysts' decisions in Redis, beside the pipeline's: one hash field per
 * subject (`decisionSlot`), announced on the decision channel so gateways'
 * readers apply them at once, and loaded by their snapshots. Kept apart
 * from the automatic decision of the same key, so the ladder's writes can
 * never replace an analyst's decision; readers let the manual one win while
 * it lasts. A removal is announced as the same decision already expired.
 */
export class ManualDecisionStore {
  private readonly hashKey: string;

  constructor(
    private readonly redis: Redis,
    private readonly opts: ManualDecisionStoreOptions,
  ) {
    this.hashKey = manualDecisionsRedisKey(opts.keyPrefix);
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Stores and announces a manual decision (replacing the subject's previous one). */
  async put(d: Decision): Promise<void> {
    if (!d.manual) throw new ProbewatchError('PW_USAGE', `decision for ${d.api_key} is not manual`);
    const json = this.message(d);
    await this.exec(this.redis.multi().hset(this.hashKey, decisionSlot(d), json).publish(this.opts.channel, json), 'store');
  }

  /**
   * Removes the subject's manual decision and announces its end; resolves
   * with the decision removed (as announced: expired now), or undefined when
   * there was none in force.
   */
  async remove(scope: DecisionScope, subject: string, reason: string): Promise<Decision | undefined> {
    const slot = decisionSlot({ api_key: subject, manual: true, scope });
    const existing = await this.read(slot);
    if (!existing || existing.expires_at <= this.now()) {
      if (existing) await this.redis.hdel(this.hashKey, slot);
      return undefined;
    }
    const ended: Decision = { ...existing, reason: reason || `removed: ${existing.reason}`, expires_at: this.now() };
    await this.exec(this.redis.multi().hdel(this.hashKey, slot).publish(this.opts.channel, this.message(ended)), 'remove');
    return ended;
  }

  /** The manual decisions in force now, by subject; lapsed ones are deleted on the way. */
  async list(): Promise<Decision[]> {
    let hash: Record<string, string>;
    try {
      hash = await this.redis.hgetall(this.hashKey);
    } catch (cause) {
      throw new ProbewatchError('PW_SINK', `cannot read manual decisions from Redis: ${(cause as Error).message}`, { cause, retriable: true });
    }
    const now = this.now();
    const live: Decision[] = [];
    const lapsed: string[] = [];
    for (const [slot, json] of Object.entries(hash)) {
      const d = parseDecisionMessage(json);
      if (d && d.manual && d.expires_at > now && this.authentic(d)) live.push(d);
      else lapsed.push(slot);
    }
    if (lapsed.length) await this.redis.hdel(this.hashKey, ...lapsed).catch(() => undefined);
    return live.sort((a, b) => decisionSlot(a).localeCompare(decisionSlot(b)));
  }

  private async read(slot: string): Promise<Decision | undefined> {
    const json = await this.redis.hget(this.hashKey, slot);
    const d = json === null ? undefined : parseDecisionMessage(json);
    return d && this.authentic(d) ? d : undefined;
  }

  private message(d: Decision): string {
    const key = this.opts.signingKey;
    return decisionMessage(d, key ? signDecision(key, d) : undefined);
  }

  /** Without a signing key everything is taken; with one, only decisions it signed. */
  private authentic(d: Decision): boolean {
    return signatureProblem(this.opts.signingKey, d) === undefined;
  }

  private async exec(tx: ReturnType<Redis['multi']>, what: string): Promise<void> {
    let results: [Error | null, unknown][] | null;
    try {
      results = await tx.exec();
    } catch (cause) {
      throw new ProbewatchError('PW_SINK', `cannot ${what} a manual decision in Redis: ${(cause as Error).message}`, { cause, retriable: true });
    }
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw new ProbewatchError('PW_SINK', `cannot ${what} a manual decision in Redis: ${failed?.[0]?.message ?? 'transaction discarded'}`, { retriable: true });
  }
}
