import type { SyncRateBucket } from './RateBucket.ts';
import { type BucketState, type TakeResult, msUntilFull, takeToken } from './takeToken.ts';

export interface InMemoryTokenBucketOptions {
  /** Past this many keys, buckets that have refilled completely are forgotten (they equal a missing one). */
  maxKeys?: number;
}

/**
 * Token buckets in this process's memory: for a single gateway, tests, and
 * the quality benchmark (synchronous, in simulated event time). Gateways
 * that share keys use `RedisTokenBucket`, which does the same maths.
 */
export class InMemoryTokenBucket implements SyncRateBucket {
  private readonly buckets = new Map<string, BucketState>();
  private readonly maxKeys: number;

  constructor(options: InMemoryTokenBucketOptions = {}) {
    this.maxKeys = options.maxKeys ?? 100_000;
  }

  takeSync(key: string, now: number, ratePerMinute: number, burst: number): TakeResult {
    const { state, result } = takeToken(this.buckets.get(key), now, ratePerMinute, burst);
    this.buckets.set(key, state);
    if (this.buckets.size > this.maxKeys) this.forgetFull(now, ratePerMinute, burst);
    return result;
  }

  take(key: string, now: number, ratePerMinute: number, burst: number): Promise<TakeResult> {
    return Promise.resolve(this.takeSync(key, now, ratePerMinute, burst));
  }

  get size(): number {
    return this.buckets.size;
  }

  private forgetFull(now: number, ratePerMinute: number, burst: number): void {
    for (const [key, state] of this.buckets) if (now - state.ts >= msUntilFull(state, ratePerMinute, burst)) this.buckets.delete(key);
  }
}
