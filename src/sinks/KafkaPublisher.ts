import type { KeyObject } from 'node:crypto';
import type { Message, Producer, TopicMessages } from 'kafkajs';
import { deadLetterCodec, decisionCodec, riskScoreCodec } from '../codec/contractCodecs.ts';
import { DECISION_SIGNATURE_HEADER, signDecision } from '../codec/decisionSignature.ts';
import { type DeadLetter, type Decision, type RiskScore, decisionSlot } from '../contract.ts';
import { ProbewatchError } from '../errors.ts';

/** What one batch sends to Kafka. */
export interface KafkaOutputs {
  risk: readonly RiskScore[];
  decisions: readonly Decision[];
  deadLetters: readonly DeadLetter[];
}

export interface OutputTopics {
  risk: string;
  decisions: string;
  dlq: string;
}

/**
 * Publishes a batch's RiskScores, Decisions (keyed by api_key, for a
 * compacted topic; signed in a header when a key is given) and dead letters as Confluent-framed Avro, in one
 * produce round, and resolves only once every in-sync replica acknowledged
 * (acks = -1), so the caller may commit the source offsets afterwards.
 */
export class KafkaPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly topics: OutputTopics,
    /** Signs each decision (header `pw-signature`) so gateways holding the key drop forged ones. */
    private readonly signingKey?: KeyObject,
  ) {}

  async start(): Promise<void> {
    await this.producer.connect();
  }

  async publish(out: KafkaOutputs): Promise<void> {
    const topicMessages: TopicMessages[] = [];
    const add = (topic: string, messages: Message[]) => messages.length && topicMessages.push({ topic, messages });
    add(this.topics.risk, out.risk.map((s) => ({ key: s.api_key, value: riskScoreCodec.encode(s) })));
    const key = this.signingKey;
    add(this.topics.decisions, out.decisions.map((d) => ({ key: decisionSlot(d), value: decisionCodec.encode(d), headers: key ? { [DECISION_SIGNATURE_HEADER]: signDecision(key, d) } : undefined })));
    add(this.topics.dlq, out.deadLetters.map((d) => ({ key: `${d.topic}/${d.partition}/${d.offset}`, value: deadLetterCodec.encode(d) })));
    if (topicMessages.length === 0) return;
    try {
      await this.producer.sendBatch({ topicMessages, acks: -1 });
    } catch (cause) {
      throw new ProbewatchError('PW_SINK', `Kafka did not acknowledge the batch's outputs: ${(cause as Error).message}`, {
        cause,
        retriable: isRetriable(cause),
      });
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

/**
 * A broker outage is worth retrying, however many retries KafkaJS itself
 * gave up after; a protocol error the broker marks final (record too large,
 * not authorised) or a failed SASL login is not.
 */
function isRetriable(err: unknown): boolean {
  // By class name: kafkajs spreads its error classes into module.exports, which ESM named imports cannot see.
  type KafkaError = { name?: string; retriable?: boolean; cause?: unknown };
  for (let e = err as KafkaError | undefined, depth = 0; e && depth < 8; e = e.cause as KafkaError | undefined, depth++) {
    if (e.name === 'KafkaJSProtocolError' && e.retriable === false) return false;
    if (e.name === 'KafkaJSSASLAuthenticationError') return false;
  }
  return true;
}
