import type { Batch, Consumer, EachBatchPayload } from 'kafkajs';
import { isProbewatchError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { BatchProcessor } from './BatchProcessor.ts';
import { OffsetGapWatch, type PartitionOffsets } from './OffsetGapWatch.ts';
import { RetainedPartitions } from './RetainedPartitions.ts';

export type ConsumerStatus = 'starting' | 'joined' | 'rebalancing' | 'restarting' | 'stopping' | 'stopped' | 'crashed';

/** What `/healthz` reports. */
export interface RunnerHealth {
  healthy: boolean;
  status: ConsumerStatus;
  groupId: string;
  memberId?: string;
  /** Partitions of the events topic this member owns. */
  partitions: number[];
  batches: number;
  lastBatchAt?: string;
}

export interface KafkaRunnerOptions {
  topic: string;
  groupId: string;
  logger: Logger;
  metrics?: Metrics;
  /** Restarts after a crash KafkaJS will not restart itself, before giving up (default 5). */
  maxRestarts?: number;
  /** Committed offsets and log starts, to count and log messages skipped by an offset reset (unchecked without). */
  offsets?: PartitionOffsets;
}

/** A crash this long after the previous one starts the restart count afresh. */
const RESTART_WINDOW_MS = 10 * 60_000;

/**
 * The consumer-group side of `probewatch run`: one KafkaJS consumer on the
 * events topic, batches handed to the BatchProcessor one partition at a
 * time, offsets committed explicitly, and only those the processor hands
 * back: offsets a saved snapshot covers (`state.snapshotEveryMs`). A timer
 * takes the snapshot that is due when no batch comes, and shutdown takes a
 * last one and commits it. After a rebalance the keys of partitions this
 * member kept throughout stay in memory; the others are dropped, so a
 * partition that moved here (or away and back) is read from its snapshots
 * rather than from stale memory; after a crash, a restart or a new member
 * id, all of them (`RetainedPartitions`).
 */
export class KafkaRunner {
  private status: ConsumerStatus = 'starting';
  private memberId?: string;
  private partitions: number[] = [];
  private batches = 0;
  private lastBatchAt?: Date;
  private readonly retained = new RetainedPartitions();
  private restarts = 0;
  private lastCrashAt = 0;
  private restartTimer?: NodeJS.Timeout;
  private snapshotTimer?: NodeJS.Timeout;
  private snapshotting = false;
  /** The timer's snapshot and commit in flight, which shutdown lets finish while the consumer can still commit. */
  private timerSnapshot?: Promise<void>;
  private readonly gaps?: OffsetGapWatch;
  private failed!: (err: Error) => void;
  /** Settles with the error when the consumer crashed for good (no KafkaJS restart). */
  readonly crashed = new Promise<Error>((resolve) => (this.failed = resolve));

  constructor(
    private readonly consumer: Consumer,
    private readonly processor: BatchProcessor,
    private readonly options: KafkaRunnerOptions,
  ) {
    const { events } = consumer;
    if (options.offsets) this.gaps = new OffsetGapWatch(options.topic, options.offsets, options.logger, options.metrics);
    consumer.on(events.GROUP_JOIN, ({ payload }) => {
      this.status = 'joined';
      this.memberId = payload.memberId;
      this.partitions = (payload.memberAssignment[options.topic] ?? []).slice().sort((a, b) => a - b);
      // Applied at the start of the next batch, never under one in flight.
      this.retained.joined(payload.memberId, this.partitions);
      this.gaps?.joined();
      options.logger.info({ memberId: payload.memberId, partitions: this.partitions, topic: options.topic }, 'joined consumer group');
    });
    consumer.on(events.REBALANCING, () => {
      if (this.status === 'joined') this.status = 'rebalancing';
    });
    consumer.on(events.CRASH, ({ payload }) => {
      options.logger.error({ err: payload.error, restart: payload.restart }, 'consumer crashed');
      this.retained.forgetAll();
      if (payload.restart) this.status = 'restarting';
      else this.superviseCrash(payload.error);
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    // A new group starts at the earliest offset: no event produced before it joined is skipped.
    await this.consumer.subscribe({ topics: [this.options.topic], fromBeginning: true });
    await this.run();
    const every = this.processor.snapshotEveryMs;
    if (every > 0) this.snapshotTimer = setInterval(() => void (this.timerSnapshot = this.snapshotAndCommit()), Math.max(50, every / 4));
  }

  /** Stops fetching, lets the batch in flight finish (publish, snapshot, commit), leaves the group. */
  async stop(): Promise<void> {
    clearTimeout(this.restartTimer);
    clearInterval(this.snapshotTimer);
    // What was applied since the last snapshot is saved and committed while the consumer can still commit
    // (a batch in flight does it itself once it sees the consumer stopping).
    await this.timerSnapshot;
    if (!this.processor.busy) await this.snapshotAndCommit(true);
    if (this.status !== 'crashed') this.status = 'stopping';
    await this.consumer.disconnect();
    if (this.status !== 'crashed') this.status = 'stopped';
  }

  health(): RunnerHealth {
    return {
      healthy: this.status === 'joined',
      status: this.status,
      groupId: this.options.groupId,
      memberId: this.memberId,
      partitions: this.partitions,
      batches: this.batches,
      lastBatchAt: this.lastBatchAt?.toISOString(),
    };
  }

  private async run(): Promise<void> {
    await this.consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.onBatch(p) });
  }

  /**
   * KafkaJS gives up on errors it deems final, some of which are not (a
   * coordinator answering a SyncGroup mid-rebalance with INVALID_REQUEST, as
   * the librdkafka mock cluster does). Reprocessing is idempotent, so the
   * consumer is restarted with backoff a few times before the process fails.
   */
  private superviseCrash(error: Error): void {
    const now = Date.now();
    if (now - this.lastCrashAt > RESTART_WINDOW_MS) this.restarts = 0;
    this.lastCrashAt = now;
    if (this.status === 'stopping' || this.status === 'stopped' || this.restarts >= (this.options.maxRestarts ?? 5)) {
      this.status = 'crashed';
      this.failed(error);
      return;
    }
    this.restarts++;
    this.status = 'restarting';
    const delayMs = Math.min(30_000, 500 * 2 ** (this.restarts - 1));
    this.options.logger.warn({ attempt: this.restarts, delayMs }, 'restarting the consumer');
    this.restartTimer = setTimeout(() => {
      this.consumer
        .connect()
        .then(() => this.run())
        .catch((err: Error) => this.superviseCrash(err));
    }, delayMs);
  }

  /** A snapshot when one is due (`force`: in any case), and a commit of the offsets it covers; skipped outside a settled membership. */
  private async snapshotAndCommit(force = false): Promise<void> {
    if (this.snapshotting || this.status !== 'joined') return;
    this.snapshotting = true;
    try {
      // One attempt: a snapshot retried under the processor's lock would hold batches back for as long as Redis is down
      // (the timer tries again soon; at shutdown what is not committed is read again).
      const commits = await this.processor.snapshotNow({ force, all: force, shouldContinue: () => false });
      if (commits.length) await this.consumer.commitOffsets(commits);
    } catch (err) {
      this.options.logger.warn({ err }, 'snapshot or commit between batches failed; the next one covers it');
    } finally {
      this.snapshotting = false;
    }
  }

  /** At shutdown, from the batch in flight: a last snapshot (one attempt), and the offsets it covers. */
  private async lastSnapshot() {
    try {
      return await this.processor.snapshotNow({ force: true, all: true, shouldContinue: () => false });
    } catch (err) {
      this.options.logger.warn({ err }, 'last snapshot failed; what it would have covered is read again at the next start');
      return [];
    }
  }

  private async onBatch({ batch, heartbeat, isRunning, isStale, resolveOffset, commitOffsetsIfNecessary }: EachBatchPayload): Promise<void> {
    const keep = this.retained.take();
    if (keep === 'all') this.processor.reset();
    else if (keep) {
      const { kept, dropped } = this.processor.retain(keep);
      this.options.logger.info({ kept, dropped, partitions: this.partitions }, 'rebalance: kept the keys of partitions this member kept, dropped the others');
    }
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    await this.gaps?.check(batch.partition, batch.messages[0].offset);
    let result;
    try {
      result = await this.processor.process({
        topic: batch.topic,
        partition: batch.partition,
        messages: batch.messages,
        shouldContinue: () => isRunning() && !isStale(),
        heartbeat,
      });
    } catch (err) {
      // A failure that a retry can fix (a sink or Redis down, a batch gone stale) keeps memory and seeks nowhere: the
      // offset stays unresolved, so KafkaJS fetches these messages again, and memory skips what it applied of them.
      if (!(isProbewatchError(err) && err.retriable)) throw err;
      this.options.logger.warn({ err, partition: batch.partition, offset: batch.messages[0].offset }, 'batch failed; read again, memory kept');
      return;
    }
    const last = result.lastOffset!;
    resolveOffset(last);
    const next = (BigInt(last) + 1n).toString();
    // Stopping: the last snapshot's offsets (every partition it covers) replace the batch's own.
    const commits = isRunning() ? result.commits : [...new Map([...result.commits, ...(await this.lastSnapshot())].map((c) => [`${c.topic}\0${c.partition}`, c])).values()];
    if (commits.length) {
      const topics = [...new Set(commits.map((c) => c.topic))].map((topic) => ({ topic, partitions: commits.filter((c) => c.topic === topic) }));
      // The payload's commit works while stopping too (consumer.commitOffsets is a no-op once stop began).
      await commitOffsetsIfNecessary({ topics });
    }
    // Where the partition resumes in this member (its commit may lag until the next snapshot).
    this.gaps?.committed(batch.partition, next);
    this.batches++;
    this.restarts = 0;
    this.lastBatchAt = new Date();
    this.recordLag(batch, next);
    if (result.skipped || result.deadLetters) {
      this.options.logger.info({ partition: batch.partition, ...result }, 'batch had redelivered or undecodable messages');
    }
  }

  private recordLag(batch: Batch, next: string): void {
    const lag = BigInt(batch.highWatermark) - BigInt(next);
    this.options.metrics?.consumerLag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(lag < 0n ? 0n : lag));
  }
}
