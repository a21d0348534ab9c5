import { type KeyObject, randomUUID } from 'node:crypto';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { decisionCodec } from '../codec/contractCodecs.ts';
import { DECISION_SIGNATURE_HEADER, type SignedDecision } from '../codec/decisionSignature.ts';
import { CachedDecisionSource, type DecisionFeedCounts } from './CachedDecisionSource.ts';
import type { UnavailablePolicy } from './DecisionCache.ts';
import type { ReaderLogger } from './DecisionReader.ts';
import { sdkCounter } from './sdkMetrics.ts';

export interface KafkaDecisionFeedOptions extends UnavailablePolicy {
  /** probewatch config `kafka.topics.decisions` (keyed by api_key, compacted). */
  topic: string;
  /**
   * Consumer group id prefix. Every feed joins a group of its own (prefix +
   * a random suffix) and commits nothing: each gateway reads the whole topic.
   */
  groupIdPrefix?: string;
  /** How long `start()` waits for the snapshot before resolving false (the feed keeps reading). */
  startTimeoutMs?: number;
  now?: () => number;
  registry?: Registry;
  logger?: ReaderLogger;
  /**
   * The decision-signing key (`loadDecisionKey()`: PROBEWATCH_DECISION_KEY or
   * …_FILE). Set, unsigned and forged decisions are dropped and counted
   * (`probewatch_gateway_decisions_rejected_total`); unset, every well-formed
   * decision is applied.
   */
  signingKey?: KeyObject;
}

export type KafkaDecisionFeedCounts = DecisionFeedCounts;

/**
 * Decisions from the compacted decisions topic, for gateways that read
 * Kafka rather than Redis (or that start while Redis is away). On start it
 * reads the topic from the beginning up to the high watermarks it found:
 * compaction keeps the latest decision per key, so that is the snapshot of
 * every decision in force; it then keeps following the topic (the deltas).
 * Until it has caught up, and again after its consumer crashes, the view is
 * stale and the shared fail-open / fail-closed policy applies past the grace.
 */
export class KafkaDecisionFeed extends CachedDecisionSource {
  private consumer: Consumer | undefined;
  /** Per partition: the offset the feed must reach (exclusive) to be caught up. */
  private targets = new Map<number, bigint>();
  /** Per partition: the next offset the feed will read. */
  private readonly positions = new Map<number, bigint>();
  private readonly invalid?: ReturnType<typeof sdkCounter>;
  private caughtUp!: Promise<void>;
  private resolveCaughtUp!: () => void;
  private closed = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly opts: KafkaDecisionFeedOptions,
  ) {
    super(opts);
    // Resolved the first time the feed catches up (later catch-ups, after a restart, only mark it fresh).
    this.caughtUp = new Promise((resolve) => (this.resolveCaughtUp = resolve));
    if (opts.registry) {
      this.invalid = sdkCounter(opts.registry, 'probewatch_gateway_decision_feed_invalid_total', 'Messages on the decisions topic that were not a Decision');
    }
  }

  /**
   * Joins, reads the topic up to the current high watermarks and resolves
   * true, or false when `startTimeoutMs` passed first (the feed keeps
   * reading; `onUnavailable` applies past the grace meanwhile).
   */
  async start(): Promise<boolean> {
    if (this.consumer) throw new Error('KafkaDecisionFeed already started');
    this.cache.markStale();
    const consumer = this.kafka.consumer({ groupId: `${this.opts.groupIdPrefix ?? 'probewatch-gateway'}-${randomUUID()}` });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, (e) => {
      if (this.closed) return;
      this.cache.markStale();
      this.opts.logger?.warn({ topic: this.opts.topic, err: e.payload.error?.message, restart: e.payload.restart }, 'decision feed consumer crashed');
      // KafkaJS restarts the consumer; the feed is fresh again once it has caught up with the topic as it is then.
      if (e.payload.restart) void this.refreshTargets();
    });
    await this.refreshTargets();
    await consumer.connect();
    await consumer.subscribe({ topics: [this.opts.topic], fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatch: (payload) => this.onBatch(payload) });
    const timeout = this.opts.startTimeoutMs ?? this.cache.graceMs;
    let timer: NodeJS.Timeout | undefined;
    const ok = await Promise.race([
      this.caughtUp.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeout))),
    ]);
    clearTimeout(timer);
    return ok;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.consumer?.disconnect();
  }

  /** Reads the topic's high watermarks: the feed is caught up once it has read below each. */
  private async refreshTargets(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(this.opts.topic);
      this.targets = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
      // An empty (or wholly compacted-away) partition has nothing to read.
      for (const o of offsets) if (BigInt(o.low) >= BigInt(o.high)) this.targets.delete(o.partition);
    } finally {
      await admin.disconnect();
    }
    this.checkCaughtUp();
  }

  private async onBatch({ batch, heartbeat, resolveOffset }: EachBatchPayload): Promise<void> {
    for (const message of batch.messages) {
      this.applyMessage(message.value, message.headers?.[DECISION_SIGNATURE_HEADER]);
      resolveOffset(message.offset);
      this.positions.set(batch.partition, BigInt(message.offset) + 1n);
    }
    await heartbeat();
    this.checkCaughtUp();
  }

  private applyMessage(value: Buffer | null, sig: Buffer | string | (Buffer | string)[] | undefined): void {
    let d: SignedDecision;
    try {
      if (!value) throw new Error('no value');
      d = decisionCodec.decode(value);
    } catch {
      this.counts.invalidMessages++;
      this.invalid?.inc();
      return;
    }
    const first = Array.isArray(sig) ? sig[0] : sig;
    if (first !== undefined) d.sig = first.toString();
    if (!this.authentic(d)) return;
    this.counts.messages++;
    this.cache.apply(d);
  }

  private checkCaughtUp(): void {
    if (this.cache.fresh) return;
    for (const [partition, high] of this.targets) if ((this.positions.get(partition) ?? 0n) < high) return;
    const wasDownFor = this.cache.markFresh();
    this.counts.snapshots++;
    this.opts.logger?.info({ topic: this.opts.topic, decisions: this.cache.size, wasDownForMs: wasDownFor }, 'decision feed caught up');
    this.resolveCaughtUp();
  }
}
