import { describe, expect, it } from 'vitest';
import { riskScoreCodec } from '../../src/codec/contractCodecs.ts';
import { createCompute } from '../../src/compute/createCompute.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { levelRank, type RiskScore } from '../../src/contract.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import { SimulatedTraffic } from '../../src/sim/SimulatedTraffic.ts';
import { TopicCollector, committedOffsets, ensureTopic, eventCodec, loadSnapshots, runConfig, runSetup, spawnProbewatch, testKafka, testProducer, testRedis, waitFor } from './helpers.ts';

const ATTACKER = 'attacker-grid';
const BEFORE = 300;
const AFTER = 40;

describe('detector state across a crash', () => {
  it('a consumer killed mid-attack between a snapshot and its commit: the next owner restores the key’s detector state, counts each event once, and the attack stays detected', async () => {
    const setup = await runSetup('attack');
    const kafka = await testKafka();
    const redis = testRedis(setup.keyPrefix);
    // The demo's lattice-sweeping attacker, renamed per test run.
    const start = Date.now() - 3 * 3_600_000;
    const key = `${setup.id}-${ATTACKER}`;
    const events = new SimulatedTraffic(start, 5)
      .until(start + 60 * 60_000)
      .filter((e) => e.api_key === ATTACKER)
      .slice(0, BEFORE + AFTER)
      .map((e) => ({ ...e, api_key: key, event_id: `${setup.id}-${e.event_id}` }));
    expect(events).toHaveLength(BEFORE + AFTER);
    const config = runConfig(setup, { publish: { riskEveryEvents: 1 }, state: { dedupWindow: 0 } });
    await ensureTopic(kafka, setup.topics.events);
    const risk = await TopicCollector.start(kafka, setup.topics.risk);
    const scores = () => risk.messages.map((m) => riskScoreCodec.decode(m.message.value!)).filter((r) => r.api_key === key);
    const producer = await testProducer(kafka);
    const send = (part: typeof events) => producer.send({ topic: setup.topics.events, acks: -1, messages: part.map((e) => ({ key: e.api_key, value: eventCodec.encode(e) })) });

    // The first instance is killed inside the window between a batch's snapshot and its commit (fault point),
    // with the event-id ring off: only the offsets in the key's snapshot keep the redelivered batch from counting twice.
    await send(events.slice(0, BEFORE));
    const first = spawnProbewatch(config, { PROBEWATCH_TEST_FAULT: 'after-snapshot:1' });
    await waitFor(() => first.findLog('fault point reached'), () => `the fault point\n${first.tail()}`, 120_000);
    expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    const savedAtKill = (await loadSnapshots(redis, setup.keyPrefix, [key])).get(key)?.eventsSeen ?? 0;
    expect(savedAtKill).toBeGreaterThan(0);
    expect([...(await committedOffsets(kafka, setup.groupId, setup.topics.events)).values()].every((o) => o < 0n)).toBe(true);

    const second = spawnProbewatch(config);
    await waitFor(async () => (await loadSnapshots(redis, setup.keyPrefix, [key])).get(key)?.eventsSeen === BEFORE, () => `the attack applied\n${second.tail()}`, 120_000);
    const beforeCrash = await waitFor(() => scores().find((r) => r.events_seen === BEFORE), 'the RiskScore after the last event of the attack');
    expect(levelRank(beforeCrash.level)).toBeGreaterThanOrEqual(levelRank('truncate'));
    await send(events.slice(BEFORE));
    const after = await waitFor(() => scores().find((r) => r.events_seen === BEFORE + AFTER), () => `the next owner scoring the key\n${second.tail()}`, 120_000);
    // Every event counted once across the kill: one RiskScore per count, none repeated, none missing.
    expect(scores().map((r) => r.events_seen).sort((a, b) => a - b)).toEqual(Array.from({ length: BEFORE + AFTER }, (_, i) => i + 1));
    // The next owner carried on from the key's state: the attack is still seen.
    expect(levelRank(after.level)).toBeGreaterThanOrEqual(levelRank('truncate'));
    expect(after.risk).toBeGreaterThanOrEqual(0.7);
    expect(after.detectors['grid-sweep']).toBeGreaterThan(0);
    expect(await second.metric('probewatch_state_snapshots_restored_total')).toBeGreaterThan(0);
    const firstAfterKill = scores().find((r) => r.events_seen === savedAtKill + 1)!;

    // Control: starting over on the same events would have scored the key as new.
    const fresh = new DetectionPipeline(parseConfig({}), { compute: await createCompute() });
    const restart: RiskScore | undefined = fresh.processBatch(events.slice(savedAtKill, savedAtKill + 1)).changes[0];
    expect(restart?.level ?? 'allow').toBe('allow');
    expect(fresh.store.peek(key)!.risk).toBeLessThan(after.risk);
    expect(firstAfterKill.events_seen).toBe(savedAtKill + 1);
    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
