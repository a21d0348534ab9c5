import { ProbewatchError } from '../errors.ts';
import type { InMemoryTopic } from '../sources/InMemoryTopic.ts';
import type { EventMessage, EventProducer } from './GatewayEmitter.ts';

/**
 * An `EventProducer` onto in-memory topics: a gateway emitter wired straight
 * into the in-memory transport (demo, tests), producing the same key and
 * Avro bytes a Kafka record would carry.
 */
export class InMemoryEventProducer implements EventProducer {
  private readonly topics: Map<string, InMemoryTopic>;

  constructor(topics: readonly InMemoryTopic[]) {
    this.topics = new Map(topics.map((t) => [t.name, t]));
  }

  async send(record: { topic: string; messages: EventMessage[] }): Promise<void> {
    const topic = this.topics.get(record.topic);
    if (!topic) throw new ProbewatchError('PW_SINK', `no in-memory topic named ${record.topic}`);
    for (const m of record.messages) topic.produce(m.key, m.value);
  }
}
