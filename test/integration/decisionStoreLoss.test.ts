/**
 * Enforcement survives a Redis that loses its data: `probewatch run` drives
 * an attacker to deceive, its own redis-server (no persistence) is killed
 * and restarted EMPTY mid-attack, and a gateway's DecisionReader sees the
 * attacker degraded again within seconds — re-published from the compacted
 * decisions topic — not at the ladder's next refresh (half a day later).
 */
import { describe, expect, it } from 'vitest';
import { loadDecisionKey } from '../../src/codec/decisionSignature.ts';
import { DecisionReader } from '../../src/gateway/DecisionReader.ts';
import { KafkaDecisionFeed } from '../../src/gateway/KafkaDecisionFeed.ts';
import { decisionRedisKey } from '../../src/sinks/RedisDecisionStore.ts';
import { ensureTopic, eventCodec, gridAttacker, onCleanup, runConfig, runSetup, spawnProbewatch, testKafka, testProducer, waitFor } from './helpers.ts';
import { OwnRedis } from './ownRedis.ts';

const DECISION_KEY = 'hex:' + 'ab'.repeat(32);

describe('an emptied decision store', () => {
  it('Redis restarted empty mid-attack: the attacker is degraded again at the gateways within seconds', async () => {
    const own = await OwnRedis.started();
    const setup = await runSetup('redisloss');
    const kafka = await testKafka();
    const key = `${setup.id}-attacker`;
    const start = Date.now() - 3 * 3_600_000;
    const events = gridAttacker(setup.id, key, start, 200);
    await ensureTopic(kafka, setup.topics.events);
    const producer = await testProducer(kafka);
    const send = (part: typeof events) => producer.send({ topic: setup.topics.events, acks: -1, messages: part.map((e) => ({ key: e.api_key, value: eventCodec.encode(e) })) });

    const config = runConfig(setup, { redis: { url: own.url, decisionStoreCheckMs: 500 } });
    const pw = spawnProbewatch(config, { PROBEWATCH_DECISION_KEY: DECISION_KEY });
    const reader = new DecisionReader(own.client(), {
      keyPrefix: setup.keyPrefix,
      channel: setup.channel,
      heartbeatMs: 100,
      reconnectMaxMs: 200,
      signingKey: loadDecisionKey({ PROBEWATCH_DECISION_KEY: DECISION_KEY }),
    });
    onCleanup(() => reader.close());
    await reader.start();

    await send(events.slice(0, 120));
    await waitFor(() => reader.decisionFor(key).enforce === 'deceive', () => `the attacker at deceive\n${pw.tail()}`, 120_000);

    // Redis dies; while it is away a gateway reading the signed decisions topic still degrades the attacker.
    await own.stop();
    // Counted while Redis is down: the reader may reload from the new server before the test's next step.
    const snapshotsBefore = reader.counters().snapshots;
    const feed = new KafkaDecisionFeed(kafka, { topic: setup.topics.decisions, startTimeoutMs: 30_000, signingKey: loadDecisionKey({ PROBEWATCH_DECISION_KEY: DECISION_KEY }) });
    onCleanup(() => feed.close());
    expect(await feed.start()).toBe(true);
    expect(feed.decisionFor(key)).toMatchObject({ enforce: 'deceive', source: 'decision' });
    expect(feed.counters().rejected).toEqual({ unsigned: 0, forged: 0 });
    // It comes back with nothing in it; the attack goes on.
    await own.start();
    const probe = own.client();
    expect(await probe.exists(decisionRedisKey(setup.keyPrefix, key))).toBe(0);
    const lostAt = Date.now();
    await send(events.slice(120, 140));

    // Only a view reloaded from the new server counts (the reader's cache bridges a short outage by itself).
    const back = await waitFor(() => {
      const d = reader.decisionFor(key);
      return reader.counters().snapshots > snapshotsBefore && reader.fresh && d.source === 'decision' && d.enforce === 'deceive' && d;
    }, () => `the attacker degraded again after the restart\n${pw.tail()}`, 60_000, 50);
    const tookMs = Date.now() - lostAt;
    expect(back.level).toBe('deceive');
    // Seconds, not the half-TTL refresh (12 h) of before; loose enough for a loaded 2-core CI machine.
    expect(tookMs).toBeLessThan(45_000);
    // Redis holds it again, signed, for gateways that start now.
    expect(await probe.hget(decisionRedisKey(setup.keyPrefix, key), 'level')).toBe('deceive');
    expect(await probe.hget(decisionRedisKey(setup.keyPrefix, key), 'sig')).toMatch(/^[0-9a-f]{64}$/);
    expect(reader.counters().rejected).toEqual({ unsigned: 0, forged: 0 });
    expect(await pw.metric('probewatch_decisions_restored_total')).toBeGreaterThanOrEqual(1);
    expect(pw.logs.some((l) => l.msg === 'decision store was empty: live decisions re-published from the decisions topic' && (l.restored as number) >= 1)).toBe(true);
    expect(await pw.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
