/**
 * Late-joining gateways and the compacted decisions topic: decisions
 * published by probewatch's KafkaPublisher before a gateway starts are its
 * startup snapshot (latest per key wins, lapsed ones are dropped), and
 * decisions published afterwards reach it as deltas. Real broker (kcat mock
 * cluster), real KafkaJS.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/contract.ts';
import { KafkaDecisionFeed } from '../../src/gateway/KafkaDecisionFeed.ts';
import { KafkaPublisher } from '../../src/sinks/KafkaPublisher.ts';
import { ensureTopic, onCleanup, testKafka, testProducer, uniqueName, waitFor } from './helpers.ts';

describe('KafkaDecisionFeed', () => {
  it('loads the decisions in force as a snapshot when it joins late, then follows the deltas', async () => {
    const kafka = await testKafka();
    const topic = uniqueName('pw-decisions');
    await ensureTopic(kafka, topic);
    const producer = await testProducer(kafka);
    const publisher = new KafkaPublisher(producer, { risk: uniqueName('pw-risk'), decisions: topic, dlq: uniqueName('pw-dlq') });
    const now = Date.now();
    const hour = 3_600_000;
    const decision = (api_key: string, level: Decision['level'], expires_at: number, shadow = false): Decision => ({ api_key, level, reason: `test ${level}`, expires_at, shadow });

    await publisher.publish({
      risk: [],
      deadLetters: [],
      decisions: [
        decision('escalated', 'throttle', now + hour),
        decision('escalated', 'truncate', now + hour), // the later decision for a key wins
        decision('lapsed', 'deceive', now - 1), // already expired: allow
        decision('shadowed', 'deceive', now + hour, true),
        ...Array.from({ length: 40 }, (_, i) => decision(`bulk-${i}`, 'observe', now + hour)),
      ],
    });
    await producer.send({ topic, messages: [{ key: 'garbage', value: Buffer.from('not a decision') }] });

    const registry = new Registry();
    const feed = new KafkaDecisionFeed(kafka, { topic, startTimeoutMs: 30_000, registry });
    onCleanup(() => feed.close());
    const t0 = performance.now();
    expect(await feed.start()).toBe(true);
    console.log(`late gateway: snapshot of ${feed.counters().messages} decisions in ${(performance.now() - t0).toFixed(0)} ms`);

    expect(feed.fresh).toBe(true);
    expect(feed.decisionFor('escalated')).toMatchObject({ level: 'truncate', enforce: 'truncate', source: 'decision' });
    expect(feed.decisionFor('lapsed')).toMatchObject({ level: 'allow', source: 'default' });
    expect(feed.decisionFor('shadowed')).toMatchObject({ level: 'deceive', shadow: true, enforce: 'allow' });
    expect(feed.decisionFor('bulk-39').level).toBe('observe');
    expect(feed.decisionFor('unknown').source).toBe('default');
    expect(feed.counters()).toMatchObject({ messages: 44, invalidMessages: 1, snapshots: 1 });
    expect(await registry.getSingleMetricAsString('probewatch_gateway_decision_feed_invalid_total')).toMatch(/ 1$/m);

    // Deltas: a new decision and a lifted one arrive without a restart.
    await publisher.publish({ risk: [], deadLetters: [], decisions: [decision('newcomer', 'deceive', Date.now() + hour), decision('escalated', 'allow', Date.now() + hour)] });
    await waitFor(() => feed.decisionFor('newcomer').level === 'deceive', 'delta for newcomer', 30_000);
    await waitFor(() => feed.decisionFor('escalated').level === 'allow', 'escalated lifted', 30_000);
  });

  it('starts fresh on an empty topic', async () => {
    const kafka = await testKafka();
    const topic = uniqueName('pw-decisions-empty');
    await ensureTopic(kafka, topic);
    const feed = new KafkaDecisionFeed(kafka, { topic, startTimeoutMs: 30_000 });
    onCleanup(() => feed.close());
    expect(await feed.start()).toBe(true);
    expect(feed.decisionFor('anyone')).toMatchObject({ level: 'allow', source: 'default' });
  });
});
