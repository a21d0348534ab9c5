import type { KeyObject } from 'node:crypto';
import type { Counter, Registry } from 'prom-client';
import { type Level, levelRank } from '../../contract.ts';
import { sdkCounter } from '../sdkMetrics.ts';
import { deceiveProbs } from './deceiveProbs.ts';
import { type EnforcementSettings, type EnforcementSettingsInput, parseEnforcementOptions } from './enforcementOptions.ts';
import { argmax, checkProbs, normalise } from './probVector.ts';
import { type RateBucket, isSyncRateBucket } from './RateBucket.ts';
import type { TakeResult } from './takeToken.ts';
import { roundProbs } from './truncateProbs.ts';

/** What the model said: its class probabilities. */
export interface ModelAnswer {
  probs: number[];
}

/** The error bodies of refused calls (stable: clients may match on `error`). */
export interface EnforcementError {
  error: 'PW_THROTTLED' | 'PW_BLOCKED';
  message: string;
  retry_after_s?: number;
}

/** What the gateway sends back for one call. */
export interface EnforcedAnswer {
  status: 200 | 429 | 403;
  /**
   * The level whose measure shaped this call: `allow` when the answer is
   * untouched (allow, observe), `throttle` for a call counted against the
   * lower rate (passed or refused — also at truncate and deceive when the
   * throttle carries up and refused the call), `truncate`, `deceive`,
   * `block`. Emit it as the event's `enforcement`.
   */
  level: Level;
  /** The decision's level for the key, as passed in. */
  decision: Level;
  /** HTTP headers to add, e.g. `{ 'retry-after': '7' }` on 429. */
  headers: Record<string, string>;
  /** 200 only: what the client receives. label = top-1 (-1 if none); probs may be [] (top-1-only truncation). */
  body?: { label: number; probs: number[] };
  /** 429/403: a stable error body. */
  error?: EnforcementError;
}

/** Who is calling, with what, when. */
export interface EnforcementCall {
  apiKey: string;
  /** The keyed hash of the input (as `hashInput` makes it for the event): deceived answers are fixed by it. */
  inputHash: Buffer;
  /** Epoch ms (the caller's clock or event time). */
  now: number;
}

export interface EnforcerOptions extends EnforcementSettingsInput {
  /** The per-key rate limit of throttled keys: `RedisTokenBucket` shared by every gateway, or `InMemoryTokenBucket`. */
  bucket: RateBucket;
  /** Secret for the deceive noise and the watermark (from the environment, like the HMAC key; never logged). */
  watermarkKey?: KeyObject;
  /** The gateway's own misinformation model for the deceive level's misinformation modes (default: `keyedWrongClass`). */
  misinformation?: (probs: readonly number[]) => number[];
  registry?: Registry;
}

export interface EnforcerCounts {
  answered: number;
  throttled: number;
  blocked: number;
  truncated: number;
  deceived: number;
  /** Bucket store failures (answered per `throttle.onBucketError`). */
  bucketErrors: number;
}

const THROTTLE = levelRank('throttle');
const BLOCK = levelRank('block');

/**
 * Applies a key's response level to one call in the gateway
 * (DESIGN.md, "Responses"): allow and observe answer untouched; throttle
 * admits calls at a lower per-key rate (token bucket; 429 with Retry-After
 * past it) and answers admitted calls untouched; truncate returns the top-1
 * label only or rounded probabilities; deceive returns a keyed wrong
 * answer by default, or label-preserving perturbed probabilities
 * (`deceiveProbs`); block refuses with 403. By default the
 * throttle carries up: truncated and deceived keys are rate-limited too.
 * Pass the decision's `enforce` level (a shadow decision enforces allow).
 *
 * `enforce` awaits the bucket; `enforceSync` needs a synchronous bucket
 * (`InMemoryTokenBucket`) and serves simulations in event time. The two
 * share everything else.
 */
export class Enforcer {
  readonly settings: Readonly<EnforcementSettings>;
  private readonly counts: EnforcerCounts = { answered: 0, throttled: 0, blocked: 0, truncated: 0, deceived: 0, bucketErrors: 0 };
  private readonly metric?: Counter<'level' | 'status'>;
  private readonly bucketErrorMetric?: Counter;

  constructor(private readonly options: EnforcerOptions) {
    const { bucket: _b, watermarkKey: _w, misinformation: _m, registry, ...settings } = options;
    this.settings = parseEnforcementOptions(settings);
    if (this.settings.deceive.watermark.enabled && !options.watermarkKey) {
      throw new RangeError('deceive.watermark.enabled needs a watermarkKey (a secret from the environment)');
    }
    if (registry) {
      this.metric = sdkCounter(registry, 'probewatch_gateway_enforced_total', 'Calls answered by the enforcer, by the level applied and the status returned', ['level', 'status']);
      this.bucketErrorMetric = sdkCounter(registry, 'probewatch_gateway_throttle_bucket_errors_total', 'Throttle bucket store failures (answered per throttle.onBucketError)');
    }
  }

  /** Applies `level` to one call. Never rejects for an unreachable bucket store (see `throttle.onBucketError`). */
  async enforce(call: EnforcementCall, level: Level, answer: ModelAnswer): Promise<EnforcedAnswer> {
    checkProbs(answer.probs); // before the bucket: a bad answer must not cost the key a token
    let take: TakeResult | undefined;
    if (this.throttles(level)) {
      const { ratePerMinute, burst } = this.settings.throttle;
      try {
        take = await this.options.bucket.take(call.apiKey, call.now, ratePerMinute, burst);
      } catch {
        take = this.bucketFailed();
      }
    }
    return this.finish(call, level, answer, take);
  }

  /** `enforce` without awaiting: the bucket must answer synchronously. */
  enforceSync(call: EnforcementCall, level: Level, answer: ModelAnswer): EnforcedAnswer {
    checkProbs(answer.probs);
    const bucket = this.options.bucket;
    let take: TakeResult | undefined;
    if (this.throttles(level)) {
      if (!isSyncRateBucket(bucket)) throw new TypeError('enforceSync needs a synchronous bucket (InMemoryTokenBucket)');
      take = bucket.takeSync(call.apiKey, call.now, this.settings.throttle.ratePerMinute, this.settings.throttle.burst);
    }
    return this.finish(call, level, answer, take);
  }

  counters(): EnforcerCounts {
    return { ...this.counts };
  }

  private throttles(level: Level): boolean {
    const rank = levelRank(level);
    return rank === THROTTLE || (rank > THROTTLE && rank < BLOCK && this.settings.throttle.atHigherLevels);
  }

  private bucketFailed(): TakeResult {
    this.counts.bucketErrors++;
    this.bucketErrorMetric?.inc();
    return this.settings.throttle.onBucketError === 'open' ? { allowed: true, retryAfterMs: 0 } : { allowed: false, retryAfterMs: 1000 };
  }

  private finish(call: EnforcementCall, level: Level, answer: ModelAnswer, take: TakeResult | undefined): EnforcedAnswer {
    const out = this.shape(call, level, answer, take);
    this.counts.answered++;
    if (out.status === 429) this.counts.throttled++;
    else if (out.status === 403) this.counts.blocked++;
    else if (out.level === 'truncate') this.counts.truncated++;
    else if (out.level === 'deceive') this.counts.deceived++;
    this.metric?.inc({ level: out.level, status: String(out.status) });
    return out;
  }

  private shape(call: EnforcementCall, level: Level, answer: ModelAnswer, take: TakeResult | undefined): EnforcedAnswer {
    if (level === 'block') {
      return { status: 403, level, decision: level, headers: {}, error: { error: 'PW_BLOCKED', message: 'This API key is blocked.' } };
    }
    if (take && !take.allowed) {
      const seconds = Math.max(1, Math.ceil(take.retryAfterMs / 1000));
      const rate = this.settings.throttle.ratePerMinute;
      return {
        status: 429,
        level: 'throttle',
        decision: level,
        headers: { 'retry-after': String(seconds) },
        error: { error: 'PW_THROTTLED', message: `Rate limit for this API key is ${rate} calls per minute; retry after ${seconds} s.`, retry_after_s: seconds },
      };
    }
    const probs = [...answer.probs];
    const label = argmax(probs);
    const ok = (applied: Level, returned: number[]): EnforcedAnswer => ({ status: 200, level: applied, decision: level, headers: {}, body: { label: returned.length ? argmax(returned) : label, probs: returned } });
    switch (level) {
      case 'allow':
      case 'observe':
        return ok('allow', probs);
      case 'throttle':
        return ok('throttle', probs);
      case 'truncate': {
        const t = this.settings.truncate;
        return ok('truncate', t.mode === 'top1' ? [] : roundProbs(normalise(probs), t.decimals));
      }
      case 'deceive':
        return ok('deceive', deceiveProbs(normalise(probs), call, this.settings.deceive, { secret: this.options.watermarkKey, misinformation: this.options.misinformation }));
    }
  }
}
