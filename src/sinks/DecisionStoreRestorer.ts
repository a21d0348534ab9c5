import type { KeyObject } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type SignedDecision, signDecision, signatureProblem } from '../codec/decisionSignature.ts';
import { decisionSlot } from '../contract.ts';
import type { Logger } from '../observability/logger.ts';
import { decisionMessage, decisionRedisKey, decisionToHash } from './RedisDecisionStore.ts';
import type { DecisionTopicContents } from './readDecisionTopic.ts';

export interface DecisionStoreRestorerOptions {
  /** config `redis.keyPrefix`; the marker lives at `${keyPrefix}decisions:present`. */
  keyPrefix: string;
  /** config `redis.decisionChannel`: restored decisions are announced, so gateways that already reloaded pick them up. */
  channel: string;
  /** Reads the decisions issued so far (the compacted decisions topic). */
  readDecisions: () => Promise<DecisionTopicContents>;
  /** How often the marker is checked besides every (re)connection (config `redis.decisionStoreCheckMs`). */
  checkEveryMs: number;
  /** Signs restored decisions; a decision read back with a wrong signature is not restored. */
  signingKey?: KeyObject;
  logger: Logger;
  /** Counts restorations and decisions restored. */
  onRestored?: (decisions: number) => void;
  now?: () => number;
}

/**
 * Writes a decision only where Redis has none for the key: anything there
 * was written after the loss by the live path, so it is newer than what the
 * topic held when the restore read it. One script, so no live write can
 * fall between the check and the write.
 */
const RESTORE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`;

const RESTORE_CHUNK = 1_000;

/**
 * Keeps enforcement alive through a Redis that lost its data (restarted
 * without persistence, failed over to an empty replica, flushed). A marker
 * key is written once the store holds every live decision; when it is found
 * missing — on every (re)connection and every `checkEveryMs` — the latest
 * decisions are read back from the compacted decisions topic (the record of
 * what every instance issued) and those still in force are written again,
 * each only where the key has no newer decision, and announced on the
 * channel. Gateways (DecisionReader) so see an attacker degraded again
 * within seconds instead of at the ladder's next refresh.
 */
export class DecisionStoreRestorer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly onReady = () => void this.check();

  constructor(
    private readonly redis: Redis,
    private readonly opts: DecisionStoreRestorerOptions,
  ) {}

  get markerKey(): string {
    return `${this.opts.keyPrefix}decisions:present`;
  }

  /** Checks now (restoring when needed), then on every reconnection and every `checkEveryMs`. */
  start(): void {
    this.redis.on('ready', this.onReady);
    this.timer = setInterval(() => void this.check(), this.opts.checkEveryMs);
    this.timer.unref();
    void this.check();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.redis.off('ready', this.onReady);
    await this.running;
  }

  /** One check at a time; a check while one runs joins it. Never rejects (failures are logged, the next check retries). */
  check(): Promise<void> {
    this.running ??= this.checkOnce()
      .catch((err: Error) => this.opts.logger.warn({ err: err.message, dependency: 'redis' }, 'could not check or restore the decision store; retrying'))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async checkOnce(): Promise<void> {
    if (this.closed || this.redis.status !== 'ready') return;
    if ((await this.redis.exists(this.markerKey)) === 1) return;
    const { latest, invalid } = await this.opts.readDecisions();
    const now = (this.opts.now ?? Date.now)();
    const live = [...latest.values()].filter((d) => d.expires_at > now);
    let restored = 0;
    let refused = 0;
    const writes: (string | number)[][] = [];
    for (const d of live) {
      if (signatureProblem(this.opts.signingKey, d)) {
        refused++;
        continue;
      }
      const { sig: _sig, ...decision } = d as SignedDecision;
      const sig = this.opts.signingKey ? signDecision(this.opts.signingKey, decision) : undefined;
      const fields = Object.entries(decisionToHash(decision, sig)).flat();
      writes.push([decisionRedisKey(this.opts.keyPrefix, decisionSlot(decision)), String(d.expires_at), this.opts.channel, decisionMessage(decision, sig), ...fields]);
    }
    // In pipelines of a bounded size, so a large restore does not hold one huge reply in memory.
    for (let i = 0; i < writes.length; i += RESTORE_CHUNK) {
      const pipe = this.redis.pipeline();
      for (const [key, ...args] of writes.slice(i, i + RESTORE_CHUNK)) pipe.eval(RESTORE_SCRIPT, 1, key, ...args);
      for (const [err, written] of (await pipe.exec()) ?? []) {
        if (err) throw err;
        if (written === 1) restored++;
      }
    }
    await this.redis.set(this.markerKey, String(now));
    this.opts.onRestored?.(restored);
    this.opts.logger[live.length ? 'warn' : 'info'](
      { dependency: 'redis', marker: this.markerKey, restored, live: live.length, refused, invalid },
      'decision store was empty: live decisions re-published from the decisions topic',
    );
  }
}
