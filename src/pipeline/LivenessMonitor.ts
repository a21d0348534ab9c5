import type { Admin } from 'kafkajs';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { StuckDependency } from './DependencyWatch.ts';
import type { RunnerHealth } from './KafkaRunner.ts';

/** The broker queries the monitor needs (a KafkaJS admin client satisfies it). */
export type LagSource = Pick<Admin, 'connect' | 'disconnect' | 'fetchTopicOffsets' | 'fetchOffsets'>;

export interface LivenessMonitorOptions {
  topic: string;
  groupId: string;
  /** Unhealthy once no batch completed for this long while input waits (config `health.stallAfterMs`). */
  stallAfterMs: number;
  /** How often the lag is read from the broker (config `health.lagEveryMs`). */
  lagEveryMs: number;
  runner: () => RunnerHealth;
  /** Dependencies not answering now, reported in the health body. */
  stuck?: () => StuckDependency[];
  logger: Logger;
  metrics?: Metrics;
}

/** `/healthz`: the runner's view, with a reason when unhealthy and the lag behind the broker. */
export type Liveness = RunnerHealth & { reason?: string; lag?: number; stuck?: StuckDependency[] };

/**
 * The truth about progress, read from the broker rather than from the
 * consumer's own bookkeeping (which stops when a batch hangs): on a timer,
 * the high watermarks of the events topic against the group's committed
 * offsets, for the partitions this member owns, set `probewatch_consumer_lag`.
 * `/healthz` fails when input is waiting and no batch completed within
 * `stallAfterMs` (counted from when the input started waiting, so a quiet
 * topic is not a stall).
 */
export class LivenessMonitor {
  private timer: NodeJS.Timeout | undefined;
  private lag: number | undefined;
  /** When the lag was last seen to become positive (wall clock ms); undefined while caught up. */
  private waitingSince: number | undefined;
  private inFlight: Promise<void> | undefined;
  /** When reading the lag started failing (wall clock ms); undefined while it works. */
  private pollFailedSince: number | undefined;

  constructor(
    private readonly admin: LagSource,
    private readonly opts: LivenessMonitorOptions,
  ) {}

  async start(): Promise<void> {
    await this.admin.connect();
    this.timer = setInterval(() => void this.poll(), this.opts.lagEveryMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    // A read in flight would connect the admin client again after its disconnect, and keep the process alive.
    await this.inFlight;
    await this.admin.disconnect();
  }

  /** Reads the lag now (also run by the timer); a call while a read is in flight joins it. */
  poll(): Promise<void> {
    this.inFlight ??= this.readLag().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async readLag(): Promise<void> {
    try {
      const owned = new Set(this.opts.runner().partitions);
      const [high, [committed]] = await Promise.all([
        this.admin.fetchTopicOffsets(this.opts.topic),
        this.admin.fetchOffsets({ groupId: this.opts.groupId, topics: [this.opts.topic] }),
      ]);
      const done = new Map(committed.partitions.map((p) => [p.partition, BigInt(p.offset)]));
      let total = 0n;
      for (const p of high) {
        if (!owned.has(p.partition)) {
          // Another member reports it now; a stale value here would count its lag twice.
          this.opts.metrics?.consumerLag.remove({ topic: this.opts.topic, partition: String(p.partition) });
          continue;
        }
        const from = done.get(p.partition) ?? -1n;
        const start = from < 0n ? BigInt(p.low) : from;
        const lag = BigInt(p.high) > start ? BigInt(p.high) - start : 0n;
        total += lag;
        this.opts.metrics?.consumerLag.set({ topic: this.opts.topic, partition: String(p.partition) }, Number(lag));
      }
      this.lag = Number(total);
      if (this.lag === 0) this.waitingSince = undefined;
      else this.waitingSince ??= Date.now();
      this.pollFailedSince = undefined;
    } catch (err) {
      if (this.pollFailedSince === undefined) this.opts.logger.warn({ err: (err as Error).message, dependency: 'kafka' }, 'cannot read the consumer lag from the broker');
      this.pollFailedSince ??= Date.now();
    }
  }

  health(): Liveness {
    const runner = this.opts.runner();
    const stuck = this.opts.stuck?.() ?? [];
    const out: Liveness = { ...runner, lag: this.lag, ...(stuck.length ? { stuck } : {}) };
    if (!runner.healthy) return { ...out, reason: `consumer ${runner.status}` };
    // A broker that cannot say how much input waits cannot vouch for progress either.
    if (this.pollFailedSince !== undefined && Date.now() - this.pollFailedSince > this.opts.stallAfterMs) {
      return { ...out, healthy: false, reason: `cannot read the consumer lag from the broker for ${Math.round((Date.now() - this.pollFailedSince) / 1000)} s` };
    }
    if (this.waitingSince !== undefined && this.lag) {
      const lastBatch = runner.lastBatchAt ? Date.parse(runner.lastBatchAt) : 0;
      const idleMs = Date.now() - Math.max(lastBatch, this.waitingSince);
      if (idleMs > this.opts.stallAfterMs) {
        const waitingOn = stuck.length ? `; waiting on ${stuck.map((s) => s.dependency).join(', ')}` : '';
        return { ...out, healthy: false, reason: `no batch completed for ${Math.round(idleMs / 1000)} s while ${this.lag} messages wait${waitingOn}` };
      }
    }
    return out;
  }
}
