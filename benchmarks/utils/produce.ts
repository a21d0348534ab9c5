import { type Kafka, Partitioners, type Producer } from 'kafkajs';
import { AvroEventCodec } from '../../src/codec/AvroEventCodec.ts';
import type { InferenceEvent } from '../../src/contract.ts';

/** A producer of Avro-encoded events keyed by api_key (the gateways' framing), topics created on first send. */
export async function eventProducer(kafka: Kafka): Promise<{ producer: Producer; send(topic: string, events: readonly InferenceEvent[]): Promise<void> }> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
  await producer.connect();
  const codec = new AvroEventCodec();
  return {
    producer,
    send: async (topic, events) => {
      const messages = events.map((e) => ({ key: e.api_key, value: codec.encode(e), timestamp: String(e.ts) }));
      await producer.send({ topic, acks: -1, messages });
    },
  };
}

/** Offsets of a topic's partitions: how many messages it holds and whether the broker trimmed any (low watermark above 0). */
export async function topicExtent(kafka: Kafka, topic: string): Promise<{ messages: number; trimmed: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return {
      messages: offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0),
      trimmed: offsets.reduce((n, p) => n + Number(p.low), 0),
    };
  } finally {
    await admin.disconnect();
  }
}
