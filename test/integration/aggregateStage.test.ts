/**
 * The aggregate stage (`aggregateStage.enabled`) on the real broker and
 * Redis: three `probewatch run` instances in one consumer group, whose
 * Sybil keys (12 keys of one /24, each too small for a per-key detector)
 * fall on partitions owned by different instances, see the campaign exactly
 * as one instance does: the same keys raised by the cross-key evidence, the
 * same levels, the same group decision on the network.
 */
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { decisionCodec, riskScoreCodec } from '../../src/codec/contractCodecs.ts';
import { type InferenceEvent, type Level, levelRank } from '../../src/contract.ts';
import { marginSampler } from '../detectors/helpers/attacks.ts';
import { ATTACK_START, naturalScenario } from '../detectors/helpers/scenario.ts';
import { merge, scriptTimes } from '../detectors/helpers/world.ts';
import { committedOffsets, ensureTopic, eventCodec, highWatermarks, type ProbewatchProcess, runConfig, runSetup, spawnProbewatch, testKafka, testProducer, TopicCollector, waitFor } from './helpers.ts';

const PARTITIONS = 4;
/** Event time cut: two hours of natural traffic (the model baselines), then the campaign's first minutes. */
const END = ATTACK_START + 4 * 60_000;
const ROUND_MS = 20_000;

function traffic(): InferenceEvent[] {
  const { world, natural } = naturalScenario();
  const attack = Array.from({ length: 12 }, (_, k) =>
    marginSampler(world, `syb-${k}`, scriptTimes(world, 40, ATTACK_START + k * 7_000, 3_000), 16, { clientIp: `203.0.113.${10 + k}`, tenant: `t-${k}` }),
  ).flat();
  return merge(natural, attack).filter((e) => e.ts < END);
}

const partitioner = Partitioners.DefaultPartitioner();
const partitionMetadata = Array.from({ length: PARTITIONS }, (_, p) => ({ partitionId: p, leader: 0, replicas: [0], isr: [0], offlineReplicas: [], partitionErrorCode: 0 }));
const partitionOf = (topic: string, key: string) => partitioner({ topic, partitionMetadata, message: { key, value: null } });

interface Outcome {
  /** Per key: the highest aggregates score and level in its RiskScores. */
  aggregates: Map<string, number>;
  levels: Map<string, Level>;
  /** Group decisions: `scope subject` → highest level. */
  groups: Map<string, Level>;
  /** Per instance, the event partitions it owned last. */
  owned: number[][];
}

const max = <K>(m: Map<K, Level>, k: K, l: Level) => (!m.has(k) || levelRank(l) > levelRank(m.get(k)!)) && m.set(k, l);

async function runCluster(instances: number): Promise<Outcome> {
  const setup = await runSetup(`pw-aggstage${instances}`);
  const kafka = await testKafka();
  const topics = { ...setup.topics, aggregateFacts: `${setup.id}.facts`, groupEvidence: `${setup.id}.evidence` };
  for (const t of Object.values(topics)) await ensureTopic(kafka, t);
  const config = runConfig(setup, { kafka: { topics }, aggregateStage: { enabled: true }, publish: { riskEveryEvents: 1 } });
  const procs: ProbewatchProcess[] = [];
  for (let i = 0; i < instances; i++) procs.push(spawnProbewatch(config));
  for (const p of procs) {
    await p.joined();
    await waitFor(() => p.findLog('aggregate stage started'), () => `aggregate stage to start\n${p.tail()}`, 90_000);
  }
  const stageGroup = `${setup.groupId}-aggregates`;
  const evidenceGroups = procs.map((p) => p.findLog('aggregate stage started')!.evidenceGroup as string);
  const risk = await TopicCollector.start(kafka, topics.risk);
  const decisions = await TopicCollector.start(kafka, topics.decisions);
  const producer = await testProducer(kafka);

  /** Every stage caught up: events applied (facts sent before their commit), facts pooled (readings sent before theirs), readings read by every instance. */
  const caughtUp = async (what: string) => {
    const done = async (group: string, topic: string) => {
      const [high, committed] = await Promise.all([highWatermarks(kafka, topic), committedOffsets(kafka, group, topic)]);
      return [...high].every(([p, h]) => h === 0n || committed.get(p) === h);
    };
    await waitFor(
      async () => (await done(setup.groupId, topics.events)) && (await done(stageGroup, topics.aggregateFacts)) && (await Promise.all(evidenceGroups.map((g) => done(g, topics.groupEvidence)))).every(Boolean),
      () => `${what} to be processed by ${instances} instance(s)\n${procs.map((p) => p.tail(5)).join('\n')}`,
      180_000,
      200,
    );
  };

  // Rounds in event time, each taken through both stages before the next: evidence reaches member keys at their next events, as it would at a gateway's pace.
  const events = traffic();
  let from = 0;
  for (let end = ATTACK_START; from < events.length; end += ROUND_MS) {
    let to = from;
    while (to < events.length && events[to].ts < end) to++;
    if (to === from) continue;
    const messages = events.slice(from, to).map((e) => ({ key: e.api_key, value: eventCodec.encode(e) }));
    for (let i = 0; i < messages.length; i += 2_000) await producer.send({ topic: topics.events, acks: -1, messages: messages.slice(i, i + 2_000) });
    await caughtUp(`events up to ${new Date(end).toISOString()}`);
    from = to;
  }

  const out: Outcome = { aggregates: new Map(), levels: new Map(), groups: new Map(), owned: [] };
  for (const { message } of risk.messages) {
    const s = riskScoreCodec.decode(message.value!);
    out.aggregates.set(s.api_key, Math.max(out.aggregates.get(s.api_key) ?? 0, s.detectors.aggregates ?? 0));
    max(out.levels, s.api_key, s.level);
  }
  for (const { message } of decisions.messages) {
    const d = decisionCodec.decode(message.value!);
    if (d.group) max(out.groups, `${d.scope} ${d.api_key}`, d.level);
  }
  for (const p of procs) {
    const joins = p.logs.filter((l) => l.msg === 'joined consumer group');
    out.owned.push((joins[joins.length - 1]?.partitions as number[] | undefined) ?? []);
  }
  for (const p of procs) expect((await p.stop()).code).toBe(0);
  return out;
}

describe('aggregate stage', () => {
  it('three instances catch a Sybil campaign spread over their partitions exactly as one instance does', async () => {
    const one = await runCluster(1);
    const three = await runCluster(3);

    // The campaign's keys fall on every partition, and each of the three instances owned some of them.
    const sybils = Array.from({ length: 12 }, (_, k) => `syb-${k}`);
    expect(new Set(sybils.map((k) => partitionOf('events', k))).size).toBeGreaterThanOrEqual(3);
    expect(three.owned.filter((p) => p.length > 0)).toHaveLength(3);

    const raised = (o: Outcome) => sybils.filter((k) => (o.aggregates.get(k) ?? 0) >= 0.8);
    expect(raised(one).length).toBeGreaterThanOrEqual(6);
    expect(raised(three)).toEqual(raised(one));
    expect(Object.fromEntries(three.levels)).toEqual(Object.fromEntries(one.levels));
    expect(one.groups.get('prefix 203.0.113.0/24')).toBeDefined();
    expect(Object.fromEntries(three.groups)).toEqual(Object.fromEntries(one.groups));
  }, 900_000);
});
