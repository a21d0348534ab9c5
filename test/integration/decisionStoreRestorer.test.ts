/**
 * DecisionStoreRestorer against the real Redis (unique prefix): what it
 * writes into an emptied store, and what it must not overwrite.
 */
import { describe, expect, it } from 'vitest';
import { loadDecisionKey, signDecision, verifyDecision } from '../../src/codec/decisionSignature.ts';
import type { Decision, Level } from '../../src/contract.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { DecisionStoreRestorer } from '../../src/sinks/DecisionStoreRestorer.ts';
import { RedisDecisionStore, decisionFromHash, decisionRedisKey, parseDecisionMessage } from '../../src/sinks/RedisDecisionStore.ts';
import { testRedis, uniqueName, waitFor } from './helpers.ts';

const key = loadDecisionKey({ PROBEWATCH_DECISION_KEY: 'k'.repeat(32) })!;
const d = (api_key: string, level: Level, expires_at = Date.now() + 600_000): Decision => ({ api_key, level, reason: `${level}!`, expires_at, shadow: false });

describe('DecisionStoreRestorer', () => {
  it('fills an emptied store with the live, authentic decisions, never over a newer one, announces them, and sets the marker', async () => {
    const id = uniqueName('restore');
    const keyPrefix = `pwtest:${id}:`;
    const channel = `pwtest:${id}:decisions`;
    const redis = testRedis(keyPrefix);
    const sub = redis.duplicate();
    const announced: string[] = [];
    await sub.subscribe(channel);
    // check() does nothing on a connection that is not ready yet (start() checks again on 'ready'); a reply means ready.
    await redis.ping();
    sub.on('message', (_c: string, m: string) => announced.push(m));

    const fromTopic = [d('a', 'deceive'), d('b', 'truncate'), d('lapsed', 'block', Date.now() - 1), d('newer-in-redis', 'deceive'), d('forged', 'block')];
    const latest = new Map(fromTopic.map((x) => [x.api_key, { ...x, sig: x.api_key === 'forged' ? 'ab'.repeat(32) : signDecision(key, x) }]));
    let reads = 0;
    const restorer = new DecisionStoreRestorer(redis, {
      keyPrefix,
      channel,
      checkEveryMs: 60_000,
      signingKey: key,
      logger: silentLogger(),
      readDecisions: async () => {
        reads++;
        // The live path writes a newer decision for one key while the topic is being read.
        await new RedisDecisionStore(redis, { keyPrefix, channel, signingKey: key }).publish([d('newer-in-redis', 'observe')]);
        return { latest, invalid: 2 };
      },
    });
    await restorer.check();
    expect(reads).toBe(1);
    const stored = async (k: string) => decisionFromHash(k, await redis.hgetall(decisionRedisKey(keyPrefix, k)));
    expect((await stored('a'))?.level).toBe('deceive');
    expect((await stored('b'))?.level).toBe('truncate');
    expect(verifyDecision(key, (await stored('a'))!, (await stored('a'))!.sig)).toBe(true);
    expect(await redis.pttl(decisionRedisKey(keyPrefix, 'a'))).toBeGreaterThan(590_000);
    expect(await stored('lapsed')).toBeUndefined();
    expect(await stored('forged')).toBeUndefined();
    expect((await stored('newer-in-redis'))?.level).toBe('observe');
    expect(await redis.exists(restorer.markerKey)).toBe(1);
    await waitFor(() => announced.length >= 3, 'the announcements', 5_000, 10);
    expect(announced.map((m) => parseDecisionMessage(m)!).map((x) => `${x.api_key}:${x.level}`).sort()).toEqual(['a:deceive', 'b:truncate', 'newer-in-redis:observe']);

    // With the marker present a check reads nothing; without it, it restores again.
    await restorer.check();
    expect(reads).toBe(1);
    await redis.del(restorer.markerKey, decisionRedisKey(keyPrefix, 'a'));
    await restorer.check();
    expect(reads).toBe(2);
    expect((await stored('a'))?.level).toBe('deceive');
    await restorer.close();
    await sub.quit();
  });
});
