import { setTimeout as sleep } from 'node:timers/promises';
import { isProbewatchError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { SiemAlert } from './SiemAlert.ts';

/** One SIEM destination. `send` throws a ProbewatchError; `retriable` says whether trying again can help. */
export interface AlertTarget {
  readonly name: string;
  send(alert: SiemAlert): Promise<void>;
  close?(): Promise<void>;
}

export interface AlertQueueOptions {
  /** Most alerts waiting; a new one past it drops the oldest waiting. */
  capacity: number;
  /** Backoff: first wait and cap, exponential with full jitter; at most `maxAttempts` tries per alert. */
  baseMs: number;
  maxMs: number;
  maxAttempts: number;
  logger: Logger;
  metrics?: Metrics;
}

/**
 * Delivers alerts to one target, in order, one at a time, off the batch
 * path: a slow or failing SIEM never holds up detection. Failed sends are
 * retried with capped exponential backoff and full jitter (Brooker,
 * "Exponential Backoff and Jitter", AWS 2015); while the target is down
 * alerts wait in a bounded queue, the oldest dropped first (counted).
 */
export class AlertQueue {
  private readonly waiting: SiemAlert[] = [];
  private draining?: Promise<void>;
  private closed = false;
  private readonly abort = new AbortController();

  constructor(
    readonly target: AlertTarget,
    private readonly options: AlertQueueOptions,
  ) {}

  get length(): number {
    return this.waiting.length;
  }

  push(alert: SiemAlert): void {
    if (this.closed) return this.count('dropped');
    if (this.waiting.length >= this.options.capacity) {
      const dropped = this.waiting.shift()!;
      this.count('dropped');
      this.options.logger.warn({ target: this.target.name, alert: dropped.id, capacity: this.options.capacity }, 'alert queue full; oldest waiting alert dropped');
    }
    this.waiting.push(alert);
    this.gauge();
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  /** Stops taking alerts, delivers the waiting ones for up to `graceMs`, then drops the rest (counted). */
  async close(graceMs: number): Promise<void> {
    this.closed = true;
    if (this.draining) {
      const timer = setTimeout(() => this.abort.abort(), graceMs);
      await this.draining;
      clearTimeout(timer);
    }
    for (const _ of this.waiting.splice(0)) this.count('dropped');
    this.gauge();
    await this.target.close?.();
  }

  private async drain(): Promise<void> {
    while (this.waiting.length && !this.abort.signal.aborted) {
      // Taken off the queue while in flight: a full queue drops the oldest alert still waiting, not this one.
      const alert = this.waiting.shift()!;
      this.gauge();
      const result = await this.deliver(alert);
      this.count(result === 'aborted' ? 'dropped' : result);
    }
  }

  private async deliver(alert: SiemAlert): Promise<'sent' | 'failed' | 'aborted'> {
    const { baseMs, maxMs, maxAttempts, logger } = this.options;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.target.send(alert);
        return 'sent';
      } catch (err) {
        const retriable = isProbewatchError(err) && err.retriable;
        const message = (err as Error).message;
        if (!retriable || attempt >= maxAttempts) {
          logger.error({ target: this.target.name, alert: alert.id, attempts: attempt, err: message }, 'alert not delivered; giving up on it');
          return 'failed';
        }
        const waitMs = Math.round(Math.random() * Math.min(maxMs, baseMs * 2 ** (attempt - 1)));
        logger.warn({ target: this.target.name, alert: alert.id, attempt, waitMs, err: message }, 'alert delivery failed; retrying');
        try {
          await sleep(waitMs, undefined, { signal: this.abort.signal });
        } catch {
          return 'aborted';
        }
      }
    }
  }

  private count(result: 'sent' | 'failed' | 'dropped'): void {
    this.options.metrics?.alerts.inc({ target: this.target.name, result });
  }

  private gauge(): void {
    this.options.metrics?.alertQueue.set({ target: this.target.name }, this.waiting.length);
  }
}
