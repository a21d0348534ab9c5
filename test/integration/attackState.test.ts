import { describe, expect, it } from 'vitest';
import { riskScoreCodec } from '../../src/codec/contractCodecs.ts';
import { createCompute } from '../../src/compute/createCompute.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { levelRank, type RiskScore } from '../../src/contract.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import { SimulatedTraffic } from '../../src/sim/SimulatedTraffic.ts';
import { TopicCollector, ensureTopic, eventCodec, loadSnapshots, runConfig, runSetup, spawnProbewatch, testKafka, testProducer, testRedis, waitFor } from './helpers.ts';

const ATTACKER = 'attacker-grid';
const BEFORE = 300;
const AFTER = 40;

describe('detector state across a crash', () => {
  it('a consumer killed mid-attack: the next owner restores the key’s detector state and the attack stays detected', async () => {
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
    const config = runConfig(setup, { publish: { riskEveryEvents: 1 } });
    await ensureTopic(kafka, setup.topics.events);
    const risk = await TopicCollector.start(kafka, setup.topics.risk);
    const scores = () => risk.messages.map((m) => riskScoreCodec.decode(m.message.value!)).filter((r) => r.api_key === key);
    const producer = await testProducer(kafka);
    const send = (part: typeof events) => producer.send({ topic: setup.topics.events, acks: -1, messages: part.map((e) => ({ key: e.api_key, value: eventCodec.encode(e) })) });

    const first = spawnProbewatch(config);
    await send(events.slice(0, BEFORE));
    await waitFor(async () => (await loadSnapshots(redis, setup.keyPrefix, [key])).get(key)?.eventsSeen === BEFORE, () => `the attack applied\n${first.tail()}`, 120_000);
    const beforeCrash = await waitFor(() => scores().find((r) => r.events_seen === BEFORE), 'the RiskScore after the last event before the crash');
    expect(levelRank(beforeCrash.level)).toBeGreaterThanOrEqual(levelRank('truncate'));
    expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

    const second = spawnProbewatch(config);
    await send(events.slice(BEFORE));
    const after = await waitFor(() => scores().find((r) => r.events_seen === BEFORE + 1), () => `the next owner scoring the key\n${second.tail()}`, 120_000);
    // The next owner carries on from the key's state: the count continues and the attack is still seen at its first event.
    expect(after.level).toBe(beforeCrash.level);
    expect(after.risk).toBeGreaterThanOrEqual(0.7);
    expect(after.detectors['grid-sweep']).toBeGreaterThan(0);
    expect(await second.metric('probewatch_state_snapshots_restored_total')).toBeGreaterThan(0);

    // Control: starting over on the same events would have scored the key as new.
    const fresh = new DetectionPipeline(parseConfig({}), { compute: await createCompute() });
    const restart: RiskScore | undefined = fresh.processBatch(events.slice(BEFORE, BEFORE + 1)).changes[0];
    expect(restart?.level ?? 'allow').toBe('allow');
    expect(fresh.store.peek(key)!.risk).toBeLessThan(after.risk);
    expect(await second.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
