/** One key's token bucket: tokens left at `ts` (epoch ms of the last take). */
export interface BucketState {
  tokens: number;
  ts: number;
}

/** What a take answers: allowed, or how long until a token is there. */
export interface TakeResult {
  allowed: boolean;
  /** 0 when allowed; otherwise the wait until one token has refilled. */
  retryAfterMs: number;
}

/**
 * The token-bucket step every bucket shares (the Redis Lua script repeats
 * it operation for operation, so both give the same answers bit for bit):
 * refill at `ratePerMinute` up to `burst` since the last take, then take
 * one token if there is one. A missing state is a full bucket. A clock that
 * goes back (another gateway's `now` a little behind) refills nothing and
 * never moves the bucket's time back.
 */
export function takeToken(state: BucketState | undefined, now: number, ratePerMinute: number, burst: number): { state: BucketState; result: TakeResult } {
  let tokens = burst;
  let ts = now;
  if (state) {
    const elapsed = Math.max(0, now - state.ts);
    tokens = Math.min(burst, state.tokens + (elapsed * ratePerMinute) / 60000);
    ts = Math.max(state.ts, now);
  }
  if (tokens >= 1) return { state: { tokens: tokens - 1, ts }, result: { allowed: true, retryAfterMs: 0 } };
  return { state: { tokens, ts }, result: { allowed: false, retryAfterMs: Math.ceil(((1 - tokens) * 60000) / ratePerMinute) } };
}

/** How long until the bucket is full again (after which its state can be forgotten). */
export function msUntilFull(state: BucketState, ratePerMinute: number, burst: number): number {
  return Math.ceil(((burst - state.tokens) * 60000) / ratePerMinute);
}
