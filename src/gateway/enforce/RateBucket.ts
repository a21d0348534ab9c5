import type { TakeResult } from './takeToken.ts';

/**
 * A per-key rate limit the enforcer takes one token from per throttled
 * call. `now` comes from the caller (epoch ms), so tests and the benchmark
 * run in their own time.
 */
export interface RateBucket {
  take(key: string, now: number, ratePerMinute: number, burst: number): Promise<TakeResult>;
}

/** A bucket that can also answer synchronously (in memory): the benchmark's event-time path. */
export interface SyncRateBucket extends RateBucket {
  takeSync(key: string, now: number, ratePerMinute: number, burst: number): TakeResult;
}

export function isSyncRateBucket(bucket: RateBucket): bucket is SyncRateBucket {
  return typeof (bucket as Partial<SyncRateBucket>).takeSync === 'function';
}
