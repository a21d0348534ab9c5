/**
 * GatewayEmitter with a real KafkaJS producer on the real broker: events
 * arrive keyed and decodable, and while the producer cannot reach Kafka the
 * buffer stays bounded, drops are counted, and the rest is delivered once
 * Kafka is reachable again.
 */
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { GatewayEmitter } from '../../src/gateway/GatewayEmitter.ts';
import { TopicCollector, eventCodec, onCleanup, testKafka, testProducer, uniqueName, waitFor } from './helpers.ts';

const call = (i: number, apiKey: string) => ({ apiKey, modelId: 'm', input: `q-${i}`, probs: [0.3, 0.7], eventId: `${apiKey}-${i}`, ts: Date.now() });

describe('GatewayEmitter on the real broker', () => {
  it('produces every event keyed by api_key, each key in order', async () => {
    const kafka = await testKafka();
    const topic = uniqueName('pw-gw-events');
    const collector = await TopicCollector.start(kafka, topic);
    const emitter = new GatewayEmitter({ producer: await testProducer(kafka), topic, hmacKey: Buffer.alloc(32, 1), batchSize: 50 });
    const keys = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
    for (let i = 0; i < 120; i++) for (const k of keys) emitter.emit(call(i, k));
    await emitter.flush();
    await waitFor(() => collector.messages.length >= 600, 'all events on the topic', 30_000);
    const byKey = new Map<string, string[]>();
    const partitionOf = new Map<string, Set<number>>();
    for (const { partition, message } of collector.messages) {
      const e = eventCodec.decode(message.value!);
      expect(message.key!.toString()).toBe(e.api_key);
      byKey.set(e.api_key, [...(byKey.get(e.api_key) ?? []), e.event_id]);
      partitionOf.set(e.api_key, (partitionOf.get(e.api_key) ?? new Set()).add(partition));
    }
    for (const k of keys) {
      expect(byKey.get(k)).toEqual(Array.from({ length: 120 }, (_, i) => `${k}-${i}`));
      expect(partitionOf.get(k)!.size).toBe(1); // keyed: one key, one partition
    }
    expect(emitter.stats()).toMatchObject({ accepted: 600, sent: 600, sendErrors: 0 });
  });

  it('while Kafka is unreachable keeps the newest events within its bound, counts the drops, then delivers', async () => {
    const kafka = await testKafka();
    const topic = uniqueName('pw-gw-outage');
    const collector = await TopicCollector.start(kafka, topic);
    // Not connected yet: every send fails, as with a broker that is down.
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
    onCleanup(() => producer.disconnect());
    const emitter = new GatewayEmitter({ producer, topic, maxBuffered: 20, lingerMs: 0, retryInitialMs: 20, retryMaxMs: 50 });
    for (let i = 0; i < 30; i++) expect(emitter.emit(call(i, 'k'))).toBe(true);
    await waitFor(() => emitter.stats().sendErrors >= 2, 'failed sends', 10_000, 10);
    expect(emitter.stats()).toMatchObject({ accepted: 30, sent: 0, buffered: 20, dropped: { buffer_full: 10 } });

    await producer.connect();
    await waitFor(() => emitter.stats().sent === 20, 'delivery after the outage', 30_000, 20);
    await waitFor(() => collector.messages.length >= 20, 'the events on the topic', 30_000);
    expect(collector.messages.map((m) => eventCodec.decode(m.message.value!).event_id)).toEqual(Array.from({ length: 20 }, (_, i) => `k-${i + 10}`));
    expect((await emitter.close()).dropped).toEqual({ buffer_full: 10, invalid: 0, closed: 0 });
  });
});
