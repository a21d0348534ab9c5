import type { Redis } from 'ioredis';
import type { RateBucket } from './RateBucket.ts';
import type { TakeResult } from './takeToken.ts';

/**
 * `takeToken` in Lua, operation for operation (same order of floating-point
 * operations, tokens stored with 17 significant digits, which round-trip a
 * double exactly), so a Redis bucket and an in-memory one agree bit for bit.
 * Atomic: Redis runs a script alone, so gateways racing on one key each see
 * the other's take.
 */
const TAKE_TOKEN_LUA = `
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local slack = tonumber(ARGV[4])
local s = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = burst
local ts = now
local oldTokens = tonumber(s[1])
local oldTs = tonumber(s[2])
if oldTokens ~= nil and oldTs ~= nil then
  local elapsed = math.max(0, now - oldTs)
  tokens = math.min(burst, oldTokens + (elapsed * rate) / 60000)
  ts = math.max(oldTs, now)
end
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = math.ceil(((1 - tokens) * 60000) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(((burst - tokens) * 60000) / rate) + slack)
return {allowed, retry}
`;

const COMMAND = 'probewatchTakeToken';

interface WithTakeToken {
  [COMMAND](key: string, now: number, ratePerMinute: number, burst: number, slackMs: number): Promise<[number, number]>;
}

export interface RedisTokenBucketOptions {
  /** Prefix of the bucket hashes (`<prefix><apiKey>`); give every deployment its own. */
  keyPrefix?: string;
  /**
   * Added to each hash's expiry, which is otherwise the time until the
   * bucket is full again. Expiry runs on Redis' clock while refills follow
   * the callers' `now`; the slack absorbs the difference (an expired bucket
   * is a full one).
   */
  expirySlackMs?: number;
}

/**
 * Per-key token buckets in Redis, shared by every gateway instance: one
 * hash per key (`tokens`, `ts`), updated by one atomic Lua script
 * (`defineCommand`, sent by hash with EVALSHA), with a PEXPIRE so idle keys
 * disappear. `now` comes from the caller. Errors (Redis unreachable)
 * reject; the enforcer decides whether to fail open or closed.
 */
export class RedisTokenBucket implements RateBucket {
  private readonly keyPrefix: string;
  private readonly slackMs: number;

  constructor(
    private readonly redis: Redis,
    options: RedisTokenBucketOptions = {},
  ) {
    this.keyPrefix = options.keyPrefix ?? 'pw:throttle:';
    this.slackMs = options.expirySlackMs ?? 60_000;
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: TAKE_TOKEN_LUA });
  }

  /** The Redis key of one API key's bucket. */
  redisKey(apiKey: string): string {
    return this.keyPrefix + apiKey;
  }

  async take(key: string, now: number, ratePerMinute: number, burst: number): Promise<TakeResult> {
    const [allowed, retryAfterMs] = await (this.redis as unknown as WithTakeToken)[COMMAND](this.redisKey(key), now, ratePerMinute, burst, this.slackMs);
    return { allowed: allowed === 1, retryAfterMs };
  }
}
