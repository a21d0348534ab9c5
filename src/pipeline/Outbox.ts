import type { DeadLetter, Decision } from '../contract.ts';
import type { KafkaOutputs } from '../sinks/KafkaPublisher.ts';
import type { Escalation } from './DetectionPipeline.ts';
import { type RetryOptions, withRetry } from './retry.ts';

/** The outputs of one part of a batch, and what is still to be acknowledged of them. */
export interface OutboxEntry {
  /** The partition whose events produced these outputs. */
  partition: number;
  /** For Kafka (RiskScores, Decisions, dead letters); undefined once acknowledged. */
  kafka?: KafkaOutputs;
  /** For the Redis decision store; undefined once acknowledged. */
  redis?: readonly Decision[];
  escalations: readonly Escalation[];
  /** The dead letters among `kafka`, counted once delivered. */
  deadLetters: readonly DeadLetter[];
}

export interface OutboxSinks {
  publisher: { publish(out: KafkaOutputs): Promise<void> };
  decisionStore: { publish(decisions: readonly Decision[]): Promise<void> };
}

/**
 * Outputs of events already applied to memory, until every sink has
 * acknowledged them. A batch that fails to deliver them leaves them here
 * and the next one sends them first, in order: the events themselves are
 * then skipped (memory holds them), so their outputs would otherwise be
 * lost. Each sink's part is dropped as soon as that sink acknowledged it,
 * so a retry sends nothing twice.
 */
export class Outbox {
  private readonly entries: OutboxEntry[] = [];

  constructor(
    private readonly sinks: OutboxSinks,
    /** Called once an entry is fully acknowledged (alerts, dead-letter counts). */
    private readonly delivered: (entry: OutboxEntry) => void,
  ) {}

  /** Outputs not yet acknowledged: while any, no snapshot may be taken (it would cover events whose outputs could be lost). */
  get size(): number {
    return this.entries.length;
  }

  /** Queues one part's outputs and sends everything queued, oldest first. */
  async send(entry: OutboxEntry, retry: Omit<RetryOptions, 'what'>): Promise<void> {
    if (entry.kafka || entry.redis || entry.escalations.length) this.entries.push(entry);
    await this.flush(retry);
  }

  /** Sends what is queued, oldest first; throws at the first entry a sink still refuses (it and those after stay). */
  async flush(retry: Omit<RetryOptions, 'what'>): Promise<void> {
    while (this.entries.length) {
      const entry = this.entries[0];
      // Kafka first: a decision reaches Redis only once it is in the decisions topic, from which the restorer
      // re-publishes what a Redis restarted empty lost, so gateways never saw a decision the topic cannot give back.
      if (entry.kafka) {
        await withRetry(() => this.sinks.publisher.publish(entry.kafka!), { ...retry, what: 'publishing to Kafka' });
        entry.kafka = undefined;
      }
      if (entry.redis) {
        await withRetry(() => this.sinks.decisionStore.publish(entry.redis!), { ...retry, what: 'publishing decisions to Redis' });
        entry.redis = undefined;
      }
      this.entries.shift();
      this.delivered(entry);
    }
  }

  /** Drops the entries of partitions that fail `keep` (lost in a rebalance: their next owner reads those events again). */
  retain(keep: (partition: number) => boolean): void {
    const kept = this.entries.filter((e) => keep(e.partition));
    this.entries.splice(0, this.entries.length, ...kept);
  }
}
