import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type Consumer, type Kafka, type Producer, Partitioners } from 'kafkajs';
import { AggregatesDetector, type AggregatesConfig } from '../../detectors/aggregates.ts';
import type { AggregateFact, GroupReading } from '../../detectors/shared/aggregateFacts.ts';
import type { Config } from '../config/configSchema.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { KafkaOutputs } from '../sinks/KafkaPublisher.ts';
import { AggregateStage } from './AggregateStage.ts';
import { AggregateStageLink } from './AggregateStageLink.ts';
import { decodeStageValue, encodeStageValue, readingSlot } from './aggregateStageCodec.ts';

/** The aggregate stage's consumer group: `aggregateStage.groupId`, else `<kafka.groupId>-aggregates`. */
export function aggregateStageGroup(config: Readonly<Config>): string {
  return config.aggregateStage.groupId ?? `${config.kafka.groupId}-aggregates`;
}

/**
 * Runs the aggregate views as a second, entity-keyed stage on Kafka's own
 * machinery (`aggregateStage.enabled`), next to the per-key stage of this
 * process:
 * - the per-key stage's facts (collected by `link`) go to
 *   `kafka.topics.aggregateFacts`, keyed by entity, with the batch's outputs
 *   and before its offsets are committed (`withFacts`);
 * - the aggregate stage consumes that topic in its own consumer group, so
 *   each entity is pooled by exactly one instance whatever partitions its
 *   keys fall on; after each batch of a partition it publishes the readings
 *   of the entities touched to `kafka.topics.groupEvidence` (keyed by entity
 *   and model), snapshots the partition to Redis (`<prefix>stage:<group>:<partition>`,
 *   with the offset of its last fact) and only then commits, so a restart
 *   or a new owner restores the partition and skips what it holds;
 * - every instance reads the evidence topic from the beginning under a
 *   consumer group of its own (the latest reading per entity wins) and the
 *   aggregates detector weighs each member key against it, with the key's
 *   own leaning, as it weighs the views it pools itself otherwise;
 * - the group verdicts the aggregate stage reaches go to this process's
 *   pipeline, which turns them into group decisions: each group is decided
 *   by the one instance that owns its fact partition.
 */
export class AggregateStageRunner {
  readonly link = new AggregateStageLink();
  private readonly stage: AggregateStage;
  private readonly producer: Producer;
  private readonly stageConsumer: Consumer;
  private readonly evidenceConsumer: Consumer;
  private readonly group: string;
  private readonly evidenceGroup: string;
  /** The group rebalanced since the last batch: partitions in memory may have moved. */
  private rejoined = false;
  private readonly topics: { facts: string; evidence: string };

  constructor(
    kafka: Kafka,
    private readonly redis: Redis,
    private readonly config: Readonly<Config>,
    private readonly logger: Logger,
    private readonly metrics?: Metrics,
  ) {
    this.stage = new AggregateStage(new AggregatesDetector(config.detectors.aggregates as AggregatesConfig), { maxEntities: config.state.maxEntities, idleEvictMs: config.state.idleEvictMs });
    this.group = aggregateStageGroup(config);
    this.topics = { facts: config.kafka.topics.aggregateFacts, evidence: config.kafka.topics.groupEvidence };
    this.producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
    const timing = { sessionTimeout: config.kafka.sessionTimeoutMs, heartbeatInterval: Math.max(100, Math.min(3_000, Math.floor(config.kafka.sessionTimeoutMs / 3))), maxWaitTimeInMs: 1_000 };
    this.stageConsumer = kafka.consumer({ groupId: this.group, ...timing });
    // A group of its own per process: every instance reads every reading.
    this.evidenceGroup = `${config.kafka.groupId}-evidence-${randomUUID()}`;
    this.evidenceConsumer = kafka.consumer({ groupId: this.evidenceGroup, ...timing });
  }

  async start(): Promise<void> {
    await this.producer.connect();
    // Topics are created by producing to them or by a metadata request (the mock cluster refuses createTopics).
    await this.producer.send({ topic: this.topics.evidence, messages: [] }).catch(() => undefined);
    await this.producer.send({ topic: this.topics.facts, messages: [] }).catch(() => undefined);
    await this.evidenceConsumer.connect();
    await this.evidenceConsumer.subscribe({ topic: this.topics.evidence, fromBeginning: true });
    await this.evidenceConsumer.run({
      eachMessage: async ({ message }) => {
        if (!message.value) return;
        this.link.receive(decodeStageValue<GroupReading>(message.value));
        this.metrics?.groupReadings.inc();
      },
    });
    await this.stageConsumer.connect();
    // After a rebalance every partition reloads its snapshot: each batch snapshots before it commits, so that is exact.
    // Dropped at the next batch, never under one in flight.
    this.stageConsumer.on(this.stageConsumer.events.GROUP_JOIN, () => (this.rejoined = true));
    await this.stageConsumer.subscribe({ topic: this.topics.facts, fromBeginning: true });
    await this.stageConsumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        const partition = batch.partition;
        if (batch.messages.length === 0) return;
        if (this.rejoined) {
          this.rejoined = false;
          this.stage.dropAll();
        }
        if (!this.stage.owns(partition)) this.stage.restore(partition, await this.redis.getBuffer(this.snapshotKey(partition)));
        let applied = 0;
        for (const m of batch.messages) if (m.value && this.stage.apply(partition, Number(m.offset), decodeStageValue<AggregateFact>(m.value))) applied++;
        this.metrics?.aggregateStageFacts.inc({ result: 'applied' }, applied);
        this.metrics?.aggregateStageFacts.inc({ result: 'skipped' }, batch.messages.length - applied);
        const readings = this.stage.readings();
        if (readings.length) {
          await this.producer.send({ topic: this.topics.evidence, acks: -1, messages: readings.map((r) => ({ key: readingSlot(r.entity, r.model), value: encodeStageValue(r) })) });
        }
        this.link.addVerdicts(this.stage.drainVerdicts());
        const evicted = this.stage.evict(partition);
        for (const reason of ['idle', 'capacity'] as const) if (evicted[reason]) this.metrics?.aggregateEntitiesEvicted.inc({ kind: 'stage', reason }, evicted[reason]);
        await this.redis.set(this.snapshotKey(partition), this.stage.snapshot(partition));
        const last = batch.messages[batch.messages.length - 1].offset;
        resolveOffset(last);
        await this.stageConsumer.commitOffsets([{ topic: batch.topic, partition, offset: String(Number(last) + 1) }]);
        await heartbeat();
        this.logger.debug({ partition, facts: batch.messages.length, applied, readings: readings.length }, 'aggregate stage batch');
      },
    });
    this.logger.info({ group: this.group, evidenceGroup: this.evidenceGroup, facts: this.topics.facts, evidence: this.topics.evidence }, 'aggregate stage started');
  }

  /** `publisher` that also sends the facts the batch's detectors collected, after its outputs. */
  withFacts<P extends { publish(out: KafkaOutputs): Promise<void> }>(publisher: P): { publish(out: KafkaOutputs): Promise<void> } {
    return {
      publish: async (out) => {
        await publisher.publish(out);
        const facts = this.link.takeFacts();
        if (facts.length === 0) return;
        try {
          await this.producer.send({ topic: this.topics.facts, acks: -1, messages: facts });
          this.metrics?.aggregateFacts.inc(facts.length);
        } catch (err) {
          // Kept for the next batch's send: the batch is not processed again, so its facts would be lost.
          this.link.requeueFacts(facts);
          throw err;
        }
      },
    };
  }

  async close(): Promise<void> {
    await this.stageConsumer.disconnect();
    await this.evidenceConsumer.disconnect();
    await this.producer.disconnect();
  }

  private snapshotKey(partition: number): string {
    return `${this.config.redis.keyPrefix}stage:${this.group}:${this.topics.facts}:${partition}`;
  }
}
