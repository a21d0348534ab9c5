import { isProbewatchError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';

export interface RetryOptions {
  /** What is being retried, for the logs. */
  what: string;
  logger: Logger;
  /** First wait and cap of the exponential backoff. */
  baseMs?: number;
  maxMs?: number;
  /** Checked before each retry: false gives up (shutdown, lost partitions) and rethrows the last error. */
  shouldContinue?: () => boolean;
  /** Called while waiting, e.g. to keep the consumer's group membership alive. */
  onWait?: () => Promise<void>;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` until it succeeds, waiting with capped exponential backoff and
 * full jitter (Brooker, "Exponential Backoff and Jitter", AWS 2015) after a
 * `ProbewatchError` marked retriable. Any other error, or giving up, throws.
 */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const base = options.baseMs ?? 100;
  const max = options.maxMs ?? 5_000;
  const sleep = options.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isProbewatchError(err) || !err.retriable || !(options.shouldContinue?.() ?? true)) throw err;
      const wait = Math.round(Math.random() * Math.min(max, base * 2 ** (attempt - 1)));
      options.logger.warn({ code: err.code, attempt, waitMs: wait, err: err.message }, `${options.what} failed; retrying`);
      await options.onWait?.().catch(() => {});
      await sleep(wait);
    }
  }
}
