/**
 * The throttle's token bucket shared through the real Redis: two Enforcers
 * (two gateway instances, each with its own connection) on one key prefix
 * share each key's budget; the Lua script agrees with the in-memory maths.
 * `now` is passed explicitly, so refills are exact.
 */
import { describe, expect, it } from 'vitest';
import { Enforcer } from '../../src/gateway/enforce/Enforcer.ts';
import { InMemoryTokenBucket } from '../../src/gateway/enforce/InMemoryTokenBucket.ts';
import { RedisTokenBucket } from '../../src/gateway/enforce/RedisTokenBucket.ts';
import { type BucketState, takeToken } from '../../src/gateway/enforce/takeToken.ts';
import { mulberry32 } from '../../src/gateway/RandomProjection.ts';
import { testRedis, uniqueName } from './helpers.ts';

const T0 = 1_700_000_000_000;
const probs = [0.2, 0.7, 0.1];
const hash = Buffer.alloc(32, 9);

function gateways(throttle = { ratePerMinute: 10, burst: 5 }) {
  const keyPrefix = `pwtest:${uniqueName('bucket')}:`;
  const [a, b] = [testRedis(keyPrefix), testRedis()];
  return {
    keyPrefix,
    redis: a,
    one: new Enforcer({ bucket: new RedisTokenBucket(a, { keyPrefix }), throttle }),
    two: new Enforcer({ bucket: new RedisTokenBucket(b, { keyPrefix }), throttle }),
  };
}

describe('RedisTokenBucket', () => {
  it("shares one key's budget between two gateway instances, answers 429 with Retry-After past it, refills with time, leaves other keys alone", async () => {
    const { one, two } = gateways();
    const call = (apiKey: string, now: number) => ({ apiKey, inputHash: hash, now });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await (i % 2 ? two : one).enforce(call('shared', T0), 'throttle', { probs })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    const refusedOnOne = await one.enforce(call('shared', T0), 'throttle', { probs });
    const refusedOnTwo = await two.enforce(call('shared', T0 + 1_000), 'throttle', { probs });
    expect(refusedOnOne).toMatchObject({ status: 429, headers: { 'retry-after': '6' }, error: { error: 'PW_THROTTLED', retry_after_s: 6 } });
    expect(refusedOnTwo).toMatchObject({ status: 429, headers: { 'retry-after': '5' } });
    // Another key has its own full bucket.
    expect((await two.enforce(call('bystander', T0), 'throttle', { probs })).status).toBe(200);
    // 6 s later one token is back, for whichever instance asks first.
    expect((await two.enforce(call('shared', T0 + 6_000), 'throttle', { probs })).body).toEqual({ label: 1, probs });
    expect((await one.enforce(call('shared', T0 + 6_000), 'throttle', { probs })).status).toBe(429);
    // A minute later the whole burst is back.
    const later: number[] = [];
    for (let i = 0; i < 6; i++) later.push((await (i % 2 ? one : two).enforce(call('shared', T0 + 66_000), 'throttle', { probs })).status);
    expect(later).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it('is atomic: concurrent takes from two connections never spend more than the burst', async () => {
    const { one, two } = gateways({ ratePerMinute: 10, burst: 7 });
    const calls = Array.from({ length: 40 }, (_, i) => (i % 2 ? one : two).enforce({ apiKey: 'raced', inputHash: hash, now: T0 }, 'throttle', { probs }));
    const answers = await Promise.all(calls);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(7);
  });

  it('agrees with takeToken bit for bit, stores the state in a hash and expires it once full', async () => {
    const keyPrefix = `pwtest:${uniqueName('bucket-maths')}:`;
    const redis = testRedis(keyPrefix);
    const bucket = new RedisTokenBucket(redis, { keyPrefix, expirySlackMs: 5_000 });
    const memory = new InMemoryTokenBucket();
    const states = new Map<string, BucketState>();
    const rand = mulberry32(42);
    let now = T0;
    for (let i = 0; i < 300; i++) {
      const key = `k${Math.floor(rand() * 3)}`;
      const rate = [7, 10, 60.5][Math.floor(rand() * 3)];
      const burst = 1 + Math.floor(rand() * 4);
      now += Math.floor(rand() * 9_000) - 1_000; // sometimes a little back in time
      const expected = takeToken(states.get(key), now, rate, burst);
      states.set(key, expected.state);
      expect(await bucket.take(key, now, rate, burst)).toEqual(expected.result);
      expect(memory.takeSync(key, now, rate, burst)).toEqual(expected.result);
      const stored = await redis.hgetall(bucket.redisKey(key));
      expect(Number(stored.tokens)).toBe(expected.state.tokens);
      expect(Number(stored.ts)).toBe(expected.state.ts);
      if (i % 50 === 0) {
        const ttl = await redis.pttl(bucket.redisKey(key));
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(Math.ceil(((burst - expected.state.tokens) * 60000) / rate) + 5_000);
      }
    }
  });
});
