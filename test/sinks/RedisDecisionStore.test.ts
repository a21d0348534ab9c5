import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/contract.ts';
import { isProbewatchError } from '../../src/errors.ts';
import { RedisDecisionStore, decisionFromHash, decisionRedisKey, parseDecisionMessage } from '../../src/sinks/RedisDecisionStore.ts';

// Runs against the real Redis at 127.0.0.1:6379 (PROBEWATCH_TEST_REDIS_URL overrides), each test under its own key prefix.
const REDIS_URL = process.env.PROBEWATCH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let redis: Redis;
let subscriber: Redis;
const prefixes: string[] = [];

function fresh(): { keyPrefix: string; channel: string } {
  const keyPrefix = `pwtest:${randomUUID()}:`;
  prefixes.push(keyPrefix);
  return { keyPrefix, channel: `${keyPrefix}decisions` };
}

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  subscriber = new Redis(REDIS_URL);
  await redis.ping();
});

afterEach(async () => {
  for (const prefix of prefixes.splice(0)) {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
});

afterAll(async () => {
  await subscriber.quit();
  await redis.quit();
});

/** Collects the messages of `channel` until `count` have arrived. */
async function collect(channel: string, count: number, action: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  let done!: () => void;
  const enough = new Promise<void>((resolve) => (done = resolve));
  const onMessage = (ch: string, message: string) => {
    if (ch !== channel) return;
    seen.push(message);
    if (seen.length >= count) done();
  };
  subscriber.on('message', onMessage);
  await subscriber.subscribe(channel);
  try {
    await action();
    await enough;
  } finally {
    subscriber.off('message', onMessage);
    await subscriber.unsubscribe(channel);
  }
  return seen;
}

describe('RedisDecisionStore', () => {
  it('writes one hash per key with its fields and an absolute expiry, and announces each decision', async () => {
    const opts = fresh();
    const store = new RedisDecisionStore(redis, opts);
    const expiresAt = Date.now() + 60_000;
    const decisions: Decision[] = [
      { api_key: 'k-attacker', level: 'throttle', reason: 'volume 180/min > 100', expires_at: expiresAt, shadow: false },
      { api_key: 'k-shadowed', level: 'block', reason: 'grid sweep', expires_at: expiresAt + 1, shadow: true },
    ];
    const messages = await collect(opts.channel, 2, () => store.publish(decisions));

    const hash = await redis.hgetall(decisionRedisKey(opts.keyPrefix, 'k-attacker'));
    expect(hash).toEqual({ level: 'throttle', reason: 'volume 180/min > 100', expires_at: String(expiresAt), shadow: '0' });
    expect(await redis.pexpiretime(decisionRedisKey(opts.keyPrefix, 'k-attacker'))).toBe(expiresAt);
    expect(decisionFromHash('k-shadowed', await redis.hgetall(decisionRedisKey(opts.keyPrefix, 'k-shadowed')))).toEqual(decisions[1]);
    expect(messages.map((m) => parseDecisionMessage(m))).toEqual(decisions);
  });

  it('replaces an earlier decision for the same key, the last one of a batch winning', async () => {
    const opts = fresh();
    const store = new RedisDecisionStore(redis, opts);
    const t = Date.now() + 60_000;
    await store.publish([{ api_key: 'k', level: 'block', reason: 'first', expires_at: t, shadow: true }]);
    await store.publish([
      { api_key: 'k', level: 'observe', reason: 'second', expires_at: t + 5_000, shadow: false },
      { api_key: 'k', level: 'truncate', reason: 'third', expires_at: t + 10_000, shadow: false },
    ]);
    const key = decisionRedisKey(opts.keyPrefix, 'k');
    expect(await redis.hgetall(key)).toEqual({ level: 'truncate', reason: 'third', expires_at: String(t + 10_000), shadow: '0' });
    expect(await redis.pexpiretime(key)).toBe(t + 10_000);
  });

  it('deletes the hash of a decision that has already expired, and still announces it', async () => {
    const opts = fresh();
    const now = 1_700_000_000_000;
    const store = new RedisDecisionStore(redis, { ...opts, now: () => now });
    const key = decisionRedisKey(opts.keyPrefix, 'k');
    await redis.hset(key, { level: 'block', reason: 'old', expires_at: String(Date.now() + 60_000), shadow: '0' });
    const stale: Decision = { api_key: 'k', level: 'throttle', reason: 'stale', expires_at: now - 1, shadow: false };
    const messages = await collect(opts.channel, 1, () => store.publish([stale]));
    expect(await redis.exists(key)).toBe(0);
    expect(parseDecisionMessage(messages[0])).toEqual(stale);
  });

  it('does nothing for an empty batch', async () => {
    const opts = fresh();
    await new RedisDecisionStore(redis, opts).publish([]);
    expect(await redis.keys(`${opts.keyPrefix}*`)).toEqual([]);
  });

  it('fails with a retriable PW_SINK error when Redis refuses the transaction', async () => {
    const opts = fresh();
    const key = decisionRedisKey(opts.keyPrefix, 'k');
    // A string where the hash should be: HSET fails inside the transaction.
    await redis.set(key, 'not a hash');
    const store = new RedisDecisionStore(redis, opts);
    const err = await store
      .publish([{ api_key: 'k', level: 'block', reason: 'r', expires_at: Date.now() + 60_000, shadow: false }])
      .then(() => undefined, (e: unknown) => e);
    expect(isProbewatchError(err, 'PW_SINK')).toBe(true);
    expect((err as { retriable: boolean }).retriable).toBe(true);
  });

  it('fails with a retriable PW_SINK error when Redis is unreachable', async () => {
    const closed = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    closed.on('error', () => {});
    const store = new RedisDecisionStore(closed, fresh());
    const err = await store
      .publish([{ api_key: 'k', level: 'block', reason: 'r', expires_at: Date.now() + 60_000, shadow: false }])
      .then(() => undefined, (e: unknown) => e);
    expect(isProbewatchError(err, 'PW_SINK')).toBe(true);
    closed.disconnect();
  });
});

describe('decision message and hash parsing', () => {
  it('rejects what is not a Decision', () => {
    expect(parseDecisionMessage('not json')).toBeUndefined();
    expect(parseDecisionMessage(JSON.stringify({ api_key: 'k', level: 'nuke', expires_at: 1 }))).toBeUndefined();
    expect(parseDecisionMessage(JSON.stringify({ api_key: 'k', level: 'block' }))).toBeUndefined();
    expect(decisionFromHash('k', {})).toBeUndefined();
    expect(decisionFromHash('k', { level: 'block', expires_at: 'soon' })).toBeUndefined();
  });
});
