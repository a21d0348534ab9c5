/**
 * Forged decisions: whoever can write the decision hashes, PUBLISH on the
 * decision channel or produce to the decisions topic could set any key's
 * level. With the shared decision key, probewatch signs every decision and
 * the SDK (DecisionReader, KafkaDecisionFeed) drops unsigned and forged
 * ones, counting them. Real Redis, real broker.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { decisionCodec } from '../../src/codec/contractCodecs.ts';
import { DECISION_SIGNATURE_HEADER, loadDecisionKey, signDecision } from '../../src/codec/decisionSignature.ts';
import type { Decision, Level } from '../../src/contract.ts';
import { DecisionReader } from '../../src/gateway/DecisionReader.ts';
import { KafkaDecisionFeed } from '../../src/gateway/KafkaDecisionFeed.ts';
import { KafkaPublisher } from '../../src/sinks/KafkaPublisher.ts';
import { RedisDecisionStore, decisionRedisKey } from '../../src/sinks/RedisDecisionStore.ts';
import { ensureTopic, onCleanup, testKafka, testProducer, testRedis, uniqueName, waitFor } from './helpers.ts';

const key = loadDecisionKey({ PROBEWATCH_DECISION_KEY: 'base64:' + Buffer.alloc(32, 7).toString('base64') })!;
const otherKey = loadDecisionKey({ PROBEWATCH_DECISION_KEY: 'x'.repeat(40) })!;

function decision(apiKey: string, level: Level): Decision {
  return { api_key: apiKey, level, reason: `${level} for ${apiKey}`, expires_at: Date.now() + 600_000, shadow: false };
}

const rejectedMetric = async (registry: Registry) =>
  Object.fromEntries(((await registry.getSingleMetric('probewatch_gateway_decisions_rejected_total')!.get()).values).map((v) => [v.labels.reason, v.value]));

describe('signed decisions', () => {
  it('DecisionReader with the key drops unsigned and forged decisions from the snapshot and the channel; without a key it applies them', async () => {
    const id = uniqueName('sig');
    const keyPrefix = `pwtest:${id}:`;
    const channel = `pwtest:${id}:decisions`;
    const redis = testRedis(keyPrefix);
    await new RedisDecisionStore(redis, { keyPrefix, channel, signingKey: key }).publish([decision('attacker', 'truncate')]);
    // Someone with write access to Redis: a hash without a signature, one signed with another key, one re-labelled after signing.
    await redis.hset(decisionRedisKey(keyPrefix, 'victim'), { level: 'block', reason: 'forged', expires_at: String(Date.now() + 600_000), shadow: '0' });
    const wrong = decision('victim2', 'block');
    await redis.hset(decisionRedisKey(keyPrefix, 'victim2'), { level: 'block', reason: wrong.reason, expires_at: String(wrong.expires_at), shadow: '0', sig: signDecision(otherKey, wrong) });
    const tampered = decision('attacker2', 'deceive');
    await new RedisDecisionStore(redis, { keyPrefix, channel, signingKey: key }).publish([tampered]);
    await redis.hset(decisionRedisKey(keyPrefix, 'attacker2'), 'level', 'allow');

    const registry = new Registry();
    const reader = new DecisionReader(redis, { keyPrefix, channel, signingKey: key, registry, heartbeatMs: 100 });
    const trusting = new DecisionReader(redis, { keyPrefix, channel, heartbeatMs: 100 });
    onCleanup(() => reader.close());
    onCleanup(() => trusting.close());
    expect(await reader.start()).toBe(true);
    expect(await trusting.start()).toBe(true);

    expect(reader.decisionFor('attacker')).toMatchObject({ level: 'truncate', source: 'decision' });
    expect(reader.decisionFor('victim')).toMatchObject({ level: 'allow', source: 'default' });
    expect(reader.decisionFor('victim2')).toMatchObject({ level: 'allow', source: 'default' });
    expect(reader.decisionFor('attacker2')).toMatchObject({ level: 'allow', source: 'default' });
    expect(reader.counters().rejected).toEqual({ unsigned: 1, forged: 2 });
    // Without a key every well-formed decision is applied (README: configure the key).
    expect(trusting.decisionFor('victim').level).toBe('block');
    expect(trusting.decisionFor('attacker2').level).toBe('allow');

    // On the channel: a forged block for 'attacker' is dropped, a signed step-up is applied.
    await redis.publish(channel, JSON.stringify({ ...decision('attacker', 'allow') }));
    await redis.publish(channel, JSON.stringify({ ...decision('attacker', 'allow'), sig: 'f'.repeat(64) }));
    await new RedisDecisionStore(redis, { keyPrefix, channel, signingKey: key }).publish([decision('attacker', 'deceive')]);
    await waitFor(() => reader.decisionFor('attacker').level === 'deceive', 'the signed step-up', 5_000, 5);
    expect(reader.counters().rejected).toEqual({ unsigned: 2, forged: 3 });
    expect(await rejectedMetric(registry)).toEqual({ unsigned: 2, forged: 3 });
    await waitFor(() => trusting.decisionFor('attacker').level === 'deceive', 'the trusting reader to follow', 5_000, 5);
  });

  it('KafkaDecisionFeed with the key drops decisions on the topic that are unsigned or signed with another key', async () => {
    const kafka = await testKafka();
    const topic = uniqueName('pw-sig-decisions');
    await ensureTopic(kafka, topic);
    const producer = await testProducer(kafka);
    await new KafkaPublisher(producer, { risk: uniqueName('pw-risk'), decisions: topic, dlq: uniqueName('pw-dlq') }, key).publish({
      risk: [],
      deadLetters: [],
      decisions: [decision('attacker', 'deceive')],
    });
    const forged = decision('victim', 'block');
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: 'attacker', value: decisionCodec.encode(decision('attacker', 'allow')) },
        { key: 'victim', value: decisionCodec.encode(forged), headers: { [DECISION_SIGNATURE_HEADER]: signDecision(otherKey, forged) } },
      ],
    });
    const registry = new Registry();
    const feed = new KafkaDecisionFeed(kafka, { topic, startTimeoutMs: 30_000, signingKey: key, registry });
    onCleanup(() => feed.close());
    expect(await feed.start()).toBe(true);
    expect(feed.decisionFor('attacker').level).toBe('deceive');
    expect(feed.decisionFor('victim').level).toBe('allow');
    expect(feed.counters().rejected).toEqual({ unsigned: 1, forged: 1 });
    expect(await rejectedMetric(registry)).toEqual({ unsigned: 1, forged: 1 });
  });
});
