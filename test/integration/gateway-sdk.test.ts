/**
 * The gateway SDK end to end: GatewayEmitter → real Kafka-protocol broker →
 * `./bin/probewatch run` → RedisDecisionStore → real Redis pub/sub →
 * DecisionReader. An attacker-like burst (200 calls within a minute for one
 * key, past the per-key limit) escalates that key while a benign key at a
 * human rate stays at allow.
 */
import type { Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { levelRank } from '../../src/contract.ts';
import { DecisionReader } from '../../src/gateway/DecisionReader.ts';
import { type EventProducer, GatewayEmitter } from '../../src/gateway/GatewayEmitter.ts';
import { loadHmacKey } from '../../src/gateway/hmacKey.ts';
import { RandomProjection } from '../../src/gateway/RandomProjection.ts';
import { hashInput } from '../../src/gateway/buildEvent.ts';
import {
  TopicCollector,
  eventCodec,
  onCleanup,
  runConfig,
  runSetup,
  spawnProbewatch,
  testKafka,
  testProducer,
  testRedis,
  waitFor,
} from './helpers.ts';

// A KafkaJS producer is what gateways pass in; this line fails to compile if it stops fitting the SDK's interface.
const fits: (p: Producer) => EventProducer = (p) => p;

describe('gateway SDK end to end', () => {
  it('an attacker burst sent by the emitter escalates its key in the DecisionReader; a benign key stays at allow', async () => {
    const setup = await runSetup('gwsdk');
    const kafka = await testKafka();
    const redis = testRedis(setup.keyPrefix);

    const reader = new DecisionReader(redis, { keyPrefix: setup.keyPrefix, channel: setup.channel });
    onCleanup(() => reader.close());
    expect(await reader.start()).toBe(true);
    expect(reader.counters().cached).toBe(0);

    const probewatch = spawnProbewatch(runConfig(setup));
    await probewatch.joined();

    const hmacKey = loadHmacKey({ PROBEWATCH_HMAC_KEY: `hex:${'5a'.repeat(32)}` });
    const projection = new RandomProjection(8, 16, 1234);
    const emitter = new GatewayEmitter({ producer: fits(await testProducer(kafka)), topic: setup.topics.events, hmacKey, projection, lingerMs: 5 });
    const collector = await TopicCollector.start(kafka, setup.topics.events);

    // Event time now: 200 attacker calls 250 ms apart (a 50 s burst) and a benign user every 5 s.
    const start = Date.now() - 60_000;
    const attackerCalls = 200;
    for (let i = 0; i < attackerCalls; i++) {
      const ts = start + i * 250;
      const features = Array.from({ length: 8 }, (_, d) => (d === i % 8 ? (i % 13) / 13 : 0));
      expect(emitter.emit({ apiKey: 'attacker', modelId: 'victim', input: `grid/${i}`, features, probs: [0.5 + (i % 7) / 20, 0.5 - (i % 7) / 20], clientIp: '203.0.113.66', ts })).toBe(true);
      if (i % 20 === 0) {
        expect(emitter.emit({ apiKey: 'benign', modelId: 'victim', input: `photo/${i}`, features: [1, 0.2, 0.1, 0, 0, 0.3, 0.9, 0.4], probs: [0.9, 0.1], clientIp: '198.51.100.5', ts })).toBe(true);
      }
    }
    await emitter.flush();
    const sent = emitter.stats();
    expect(sent).toMatchObject({ accepted: attackerCalls + 10, sent: attackerCalls + 10, sendErrors: 0, buffered: 0 });

    // The broker holds what the SDK produced: keyed by api_key, decodable, with the keyed hash of the raw input.
    await waitFor(() => collector.messages.length >= attackerCalls + 10, 'the events on the broker', 30_000);
    const first = collector.messages.map((m) => ({ key: m.message.key!.toString(), event: eventCodec.decode(m.message.value!) })).find((m) => m.event.ts === start);
    expect(first?.key).toBe(first?.event.api_key);
    const attackerFirst = collector.messages.map((m) => eventCodec.decode(m.message.value!)).find((e) => e.api_key === 'attacker' && e.ts === start)!;
    expect(attackerFirst.input_hash).toEqual(hashInput('grid/0', hmacKey));
    expect(attackerFirst.input_sketch).toHaveLength(16);

    const escalated = await waitFor(
      () => {
        const d = reader.decisionFor('attacker');
        return levelRank(d.level) >= levelRank('throttle') ? d : undefined;
      },
      `the attacker's escalation to reach the reader\n${probewatch.tail()}`,
      90_000,
      20,
    );
    expect(escalated.source).toBe('decision');
    expect(escalated.shadow).toBe(false);
    expect(escalated.enforce).toBe(escalated.level);
    expect(escalated.expiresAt!).toBeGreaterThan(Date.now());
    expect(escalated.reason.length).toBeGreaterThan(0);
    // It arrived by pub/sub: the reader's one snapshot was taken before any decision existed.
    expect(reader.counters()).toMatchObject({ snapshots: 1, failedOpen: 0, failedClosed: 0 });
    expect(reader.counters().messages).toBeGreaterThan(0);

    // Every attacker event was processed before the benign key is judged.
    await waitFor(async () => (await probewatch.metric('probewatch_events_processed_total')) >= attackerCalls + 10, 'all events processed', 60_000);
    expect(reader.decisionFor('benign')).toMatchObject({ level: 'allow', enforce: 'allow' });

    await emitter.close();
    expect((await probewatch.stop('SIGTERM')).code).toBe(0);
  });
});
