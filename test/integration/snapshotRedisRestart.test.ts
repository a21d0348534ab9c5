/**
 * Interval snapshots survive a Redis that loses its data: `probewatch run`
 * snapshots per interval into its own redis-server (no persistence), which
 * is killed and restarted EMPTY mid-attack. The instance notices (its
 * marker is gone), rewrites every key and aggregate it holds — also a key
 * that sent nothing since — and the attacker carries on from memory, its
 * decisions never lowered.
 */
import { describe, expect, it } from 'vitest';
import { decisionCodec } from '../../src/codec/contractCodecs.ts';
import { levelRank } from '../../src/contract.ts';
import { TopicCollector, ensureTopic, eventCodec, gridAttacker, keyStream, loadSnapshots, runConfig, runSetup, spawnProbewatch, testKafka, testProducer, waitFor } from './helpers.ts';
import { OwnRedis } from './ownRedis.ts';

describe('interval snapshots across a Redis restarted empty', () => {
  it('every key and aggregate is rewritten, and the attacker is never let down the ladder', async () => {
    const own = await OwnRedis.started();
    const setup = await runSetup('snaprestart');
    const kafka = await testKafka();
    const attacker = `${setup.id}-attacker`;
    const quiet = `${setup.id}-quiet`;
    const start = Date.now() - 3 * 3_600_000;
    const events = gridAttacker(setup.id, attacker, start, 160);
    await ensureTopic(kafka, setup.topics.events);
    const decisions = await TopicCollector.start(kafka, setup.topics.decisions);
    const producer = await testProducer(kafka);
    const send = (part: typeof events) => producer.send({ topic: setup.topics.events, acks: -1, messages: part.map((e) => ({ key: e.api_key, value: eventCodec.encode(e) })) });
    const levels = () => decisions.messages.filter((m) => m.message.key?.toString() === attacker).map((m) => decisionCodec.decode(m.message.value!).level);

    const config = runConfig(setup, { redis: { url: own.url }, state: { snapshotEveryMs: 300, aggregates: { snapshotEveryMs: 300 } } });
    const pw = spawnProbewatch(config);
    const probe = own.client();
    const saved = async () => loadSnapshots(probe, setup.keyPrefix, [attacker, quiet]).catch(() => new Map());
    const aggregates = async () => (await probe.keys(`${setup.keyPrefix}agg:*`).catch(() => [])).length;

    await producer.send({ topic: setup.topics.events, acks: -1, messages: keyStream(quiet, 5, start, 60_000).messages });
    await send(events.slice(0, 120));
    await waitFor(() => levels().includes('deceive'), () => `the attacker at deceive\n${pw.tail()}`, 120_000);
    await waitFor(async () => {
      const s = await saved();
      return s.get(attacker)?.eventsSeen === 120 && s.get(quiet)?.eventsSeen === 5 && (await aggregates()) > 0;
    }, () => `both keys and the aggregates snapshotted\n${pw.tail()}`, 30_000);
    const aggregatesBefore = await aggregates();

    await own.stop();
    await own.start();
    expect((await saved()).size).toBe(0);
    expect(await aggregates()).toBe(0);
    // Only the attacker sends: the quiet key and the aggregates it does not touch are back only through the full rewrite.
    await send(events.slice(120));

    let seen = '';
    await waitFor(async () => {
      const s = await saved();
      seen = `attacker ${s.get(attacker)?.eventsSeen}, quiet ${s.get(quiet)?.eventsSeen}, aggregates ${await aggregates()} of ${aggregatesBefore}`;
      return s.get(attacker)?.eventsSeen === 160 && s.get(quiet)?.eventsSeen === 5 && (await aggregates()) >= aggregatesBefore;
    }, () => `every key and aggregate rewritten after the restart (${seen})\n${pw.tail()}`, 60_000);
    expect(pw.logs.some((l) => l.msg === 'snapshot store lost its data: rewriting every key and aggregate in memory')).toBe(true);
    // The attacker carried on from memory: not restarted from zero, so no fresh ladder published a lower decision.
    const ranks = levels().map(levelRank);
    expect(ranks.length).toBeGreaterThan(0);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    expect(await pw.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
