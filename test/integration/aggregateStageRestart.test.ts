/**
 * The aggregate stage restores its partitions after a restart without
 * counting a fact twice: each batch snapshots the partition (with the offset
 * of its last fact) to Redis before committing, so facts read again after a
 * crash between the two are skipped. Real broker and Redis.
 */
import { describe, expect, it } from 'vitest';
import type { AggregateFact, GroupReading } from '../../detectors/shared/aggregateFacts.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import type { StagePartitionState } from '../../src/pipeline/AggregateStage.ts';
import { AggregateStageRunner } from '../../src/pipeline/AggregateStageRunner.ts';
import { decodeStageValue, encodeStageValue } from '../../src/pipeline/aggregateStageCodec.ts';
import { committedOffsets, ensureTopic, highWatermarks, REDIS_URL, testKafka, testProducer, testRedis, TopicCollector, uniqueName, waitFor } from './helpers.ts';

const ENTITY = 'prefix:198.51.100.0/24';
const T = Date.UTC(2026, 0, 5, 9);

/** `n` facts of keys k0…k3 taking turns on one network, from event `first` on. */
function facts(first: number, n: number): AggregateFact[] {
  return Array.from({ length: n }, (_, j) => {
    const i = first + j;
    return { entity: ENTITY, model: 'm', key: `k${i % 4}`, ts: T + i * 1_000, epoch: 0, margin: { hit: i % 3 === 0, expected: 0.1 }, label: i % 5, bucket: i % 17 };
  });
}

describe('aggregate stage restart', () => {
  it('restores its partition from Redis and skips the facts it already pooled', async () => {
    const id = uniqueName('pw-aggrestart');
    const keyPrefix = `pwtest:${id}:`;
    const kafka = await testKafka();
    const redis = testRedis(keyPrefix);
    const config = parseConfig({
      kafka: { groupId: `${id}.group`, sessionTimeoutMs: 6_000, topics: { aggregateFacts: `${id}.facts`, groupEvidence: `${id}.evidence` } },
      redis: { url: REDIS_URL, keyPrefix },
      aggregateStage: { enabled: true },
    });
    const { aggregateFacts: factsTopic, groupEvidence } = config.kafka.topics;
    const group = `${id}.group-aggregates`;
    await ensureTopic(kafka, factsTopic);
    await ensureTopic(kafka, groupEvidence);
    const producer = await testProducer(kafka);
    const send = (fs: AggregateFact[]) => producer.send({ topic: factsTopic, acks: -1, messages: fs.map((f) => ({ key: f.entity, value: encodeStageValue(f) })) });
    const evidence = await TopicCollector.start(kafka, groupEvidence);

    const pooled = async (): Promise<number> => {
      const [key] = await redis.keys(`${keyPrefix}stage:*`);
      if (!key) return 0;
      const state = decodeStageValue<StagePartitionState>((await redis.getBuffer(key))!);
      return state.entities[ENTITY]?.m?.contributions ?? 0;
    };
    const caughtUp = () =>
      waitFor(async () => {
        const [high, committed] = await Promise.all([highWatermarks(kafka, factsTopic), committedOffsets(kafka, group, factsTopic)]);
        return [...high].every(([p, h]) => h === 0n || committed.get(p) === h);
      }, 'the aggregate stage to commit every fact', 60_000);
    const start = async () => {
      const runner = new AggregateStageRunner(kafka, testRedis(), config, silentLogger());
      await runner.start();
      return runner;
    };

    await send(facts(0, 120));
    const first = await start();
    await caughtUp();
    expect(await pooled()).toBe(120);
    await first.close();

    // A crash after the snapshot and before the commit: the group reads every fact again.
    // (The mock cluster has no DescribeGroups, so admin.resetOffsets is out: a member of the group commits offset 0.)
    const rewinder = kafka.consumer({ groupId: group, sessionTimeout: 6_000, maxWaitTimeInMs: 200 });
    let joined = false;
    rewinder.on(rewinder.events.GROUP_JOIN, () => (joined = true));
    await rewinder.connect();
    await rewinder.subscribe({ topic: factsTopic });
    await rewinder.run({ autoCommit: false, eachBatch: async () => undefined });
    await waitFor(() => joined, 'the rewinding member to join', 30_000);
    const partitions = [...(await highWatermarks(kafka, factsTopic)).keys()];
    await rewinder.commitOffsets(partitions.map((partition) => ({ topic: factsTopic, partition, offset: '0' })));
    await rewinder.disconnect();
    expect([...(await committedOffsets(kafka, group, factsTopic)).values()].every((o) => o <= 0n)).toBe(true);

    await send(facts(120, 40));
    const second = await start();
    await caughtUp();
    expect(await pooled()).toBe(160);
    await second.close();

    // The stage's last reading of the network: four keys, scored.
    const readings = evidence.messages.map((m) => decodeStageValue<GroupReading>(m.message.value!)).filter((r) => r.entity === ENTITY);
    expect(readings.at(-1)).toMatchObject({ entity: ENTITY, model: 'm', keys: 4, ts: T + 159_000 });
  }, 180_000);
});
