import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';

/** What the watch asks the broker (KafkaJS admin, in `run`). */
export interface PartitionOffsets {
  /** The group's committed offset per partition (-1: none). */
  committed(topic: string): Promise<Map<number, bigint>>;
  /** The first offset still held per partition (the log start). */
  lowWatermarks(topic: string): Promise<Map<number, bigint>>;
}

/**
 * Notices events skipped by an offset reset. When the broker has deleted a
 * partition's messages past the group's committed offset (retention, or the
 * mock broker's size cap), KafkaJS resets to the log start and carries on:
 * the messages in between are never seen. Each batch's first offset is
 * compared with the offset the partition should resume at (committed at
 * join, then the last commit); on a gap, the log start tells a skip (the
 * log starts past the expected offset) from offsets that simply hold no
 * message (transaction markers, compaction). A skip is counted
 * (`probewatch_offsets_skipped_total`, `probewatch_offset_resets_total`)
 * and logged once with topic, partition and the skipped range.
 */
export class OffsetGapWatch {
  private expected = new Map<number, bigint>();
  private committedAtJoin?: Promise<Map<number, bigint>>;

  constructor(
    private readonly topic: string,
    private readonly offsets: PartitionOffsets,
    private readonly logger: Logger,
    private readonly metrics?: Metrics,
  ) {}

  /** After a (re)join: partitions resume from the group's committed offsets. */
  joined(): void {
    this.expected = new Map();
    this.committedAtJoin = this.offsets.committed(this.topic).catch((err: Error) => {
      this.logger.warn({ err: err.message, topic: this.topic }, 'cannot read committed offsets: offset skips are not checked until the next commit');
      return new Map();
    });
  }

  /** Checks a batch's first offset against where its partition should resume; resolves with the number of messages skipped. */
  async check(partition: number, firstOffset: string): Promise<number> {
    let expected = this.expected.get(partition);
    if (expected === undefined && this.committedAtJoin) expected = (await this.committedAtJoin).get(partition);
    const first = BigInt(firstOffset);
    if (expected === undefined || expected < 0n || first <= expected) return 0;
    let low: bigint | undefined;
    try {
      low = (await this.offsets.lowWatermarks(this.topic)).get(partition);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, topic: this.topic, partition }, 'cannot read the log start to check an offset gap');
      return 0;
    }
    if (low === undefined || low <= expected) return 0;
    const to = (first < low ? first : low) - 1n;
    const skipped = Number(to - expected + 1n);
    this.metrics?.offsetResets.inc({ topic: this.topic, partition: String(partition) });
    this.metrics?.offsetsSkipped.inc({ topic: this.topic, partition: String(partition) }, skipped);
    this.logger.error(
      { topic: this.topic, partition, from: expected.toString(), to: to.toString(), skipped, logStart: low.toString() },
      'offset reset: the broker no longer holds messages past the committed offset; they were skipped',
    );
    return skipped;
  }

  /** The partition was committed up to `next` (exclusive). */
  committed(partition: number, next: string): void {
    this.expected.set(partition, BigInt(next));
  }
}
