import { describe, expect, it } from 'vitest';
import { frame } from '../../src/codec/confluentFraming.ts';
import { deadLetterCodec, decisionCodec, riskScoreCodec } from '../../src/codec/contractCodecs.ts';
import { schemaType } from '../../src/codec/schemas.ts';
import { levelRank } from '../../src/contract.ts';
import { decisionRedisKey } from '../../src/sinks/RedisDecisionStore.ts';
import {
  TopicCollector,
  committedOffsets,
  eventCodec,
  highWatermarks,
  keyStream,
  loadSnapshots,
  runConfig,
  runSetup,
  spawnProbewatch,
  testEvent,
  testKafka,
  testProducer,
  testRedis,
  waitFor,
} from './helpers.ts';

describe('probewatch run: Kafka in, Kafka and Redis out', () => {
  it('turns N valid events into RiskScores and Decisions, and M malformed ones into dead letters', async () => {
    const setup = await runSetup('pipeline');
    const kafka = await testKafka();
    const redis = testRedis(setup.keyPrefix);
    const now = Date.now();

    // One attacker well over the volume limit (100 calls/min per key), three benign keys at 1 call/min.
    const attacker = `${setup.id}-attacker`;
    const streams = [keyStream(attacker, 250, now - 30_000, 100), ...[1, 2, 3].map((i) => keyStream(`${setup.id}-benign-${i}`, 20, now - 20 * 60_000, 60_000))];
    const perKey = new Map(streams.map((s) => [s.events[0].api_key, s.events.length]));
    const valid = streams.flatMap((s) => s.messages);

    const emptyId = frame(1, schemaType('InferenceEvent').toBuffer({ ...testEvent('k', now, 0), event_id: '' }));
    const malformed = [
      { value: Buffer.from('{"event_id":"json, not avro"}'), code: 'PW_DECODE_FRAMING' },
      { value: Buffer.from([0, 0]), code: 'PW_DECODE_FRAMING' },
      { value: frame(77, eventCodec.encode(testEvent('k', now, 1)).subarray(5)), code: 'PW_UNKNOWN_SCHEMA' },
      { value: frame(1, Buffer.from([0xff, 0xff, 0xff, 0x01])), code: 'PW_DECODE_AVRO' },
      { value: emptyId, code: 'PW_INVALID_EVENT' },
    ];

    const child = spawnProbewatch(runConfig(setup, { publish: { riskEveryEvents: 10 }, state: { dedupWindow: 512 } }));
    const [risk, decisions, dlq] = await Promise.all([setup.topics.risk, setup.topics.decisions, setup.topics.dlq].map((t) => TopicCollector.start(kafka, t)));
    await child.joined();
    const producer = await testProducer(kafka);
    // Bad messages in the middle of the stream must not stop the consumer.
    await producer.send({ topic: setup.topics.events, acks: -1, messages: valid.slice(0, 150) });
    await producer.send({ topic: setup.topics.events, acks: -1, messages: malformed.map((m, i) => ({ key: `bad-${i}`, value: m.value })) });
    await producer.send({ topic: setup.topics.events, acks: -1, messages: valid.slice(150) });

    const N = valid.length;
    const M = malformed.length;
    await waitFor(async () => (await child.metric('probewatch_events_in_total')) === N + M, () => `${N + M} events in\n${child.tail()}`);
    await waitFor(() => dlq.messages.length >= M, `${M} dead letters`);

    // Every valid event was applied to its key's state exactly once.
    const snapshots = await waitFor(async () => {
      const s = await loadSnapshots(redis, setup.keyPrefix, [...perKey.keys()]);
      return [...perKey].every(([k, n]) => s.get(k)?.eventsSeen === n) && s;
    }, 'snapshots of every key');
    expect(snapshots.size).toBe(perKey.size);

    // RiskScores: the last one of each key counts all its events; the attacker escalated on volume.
    const scores = await waitFor(() => {
      const decoded = risk.messages.map((m) => riskScoreCodec.decode(m.message.value!));
      return [...perKey].every(([k, n]) => decoded.some((s) => s.api_key === k && s.events_seen === n)) && decoded;
    }, 'RiskScores with every key at its full count');
    for (const m of risk.messages) expect(m.message.key!.toString()).toBe(riskScoreCodec.decode(m.message.value!).api_key);
    const attackerTop = Math.max(...scores.filter((s) => s.api_key === attacker).map((s) => levelRank(s.level)));
    expect(attackerTop).toBeGreaterThanOrEqual(levelRank('throttle'));
    expect(scores.find((s) => s.api_key === attacker && s.level !== 'allow')!.evidence.join(' ')).toMatch(/volume/);
    for (const s of scores.filter((s) => s.api_key !== attacker)) expect(s.level).toBe('allow');

    // Decisions: keyed by api_key on the topic, and the latest one in Redis with a TTL.
    const attackerDecisions = await waitFor(() => {
      const d = decisions.messages.filter((m) => m.message.key!.toString() === attacker).map((m) => decisionCodec.decode(m.message.value!));
      return d.length > 0 && d;
    }, 'decisions for the attacker');
    expect(decisions.messages.every((m) => decisionCodec.decode(m.message.value!).api_key === m.message.key!.toString())).toBe(true);
    const latest = attackerDecisions.at(-1)!;
    expect(levelRank(latest.level)).toBeGreaterThanOrEqual(levelRank('throttle'));
    const hash = await redis.hgetall(decisionRedisKey(setup.keyPrefix, attacker));
    expect(hash.level).toBe(latest.level);
    expect(Number(hash.expires_at)).toBe(latest.expires_at);
    expect(await redis.pttl(decisionRedisKey(setup.keyPrefix, attacker))).toBeGreaterThan(0);
    for (const k of perKey.keys()) if (k !== attacker) expect(await redis.exists(decisionRedisKey(setup.keyPrefix, k))).toBe(0);

    // Dead letters: exactly M, each with its raw bytes, source position and reason.
    expect(dlq.messages).toHaveLength(M);
    const letters = dlq.messages.map((m) => deadLetterCodec.decode(m.message.value!));
    expect(letters.map((l) => l.error_code).sort()).toEqual(malformed.map((m) => m.code).sort());
    for (const l of letters) {
      const source = malformed.find((m) => m.value.equals(l.raw))!;
      expect(source, `dead letter ${l.error_code} carries the raw bytes`).toBeDefined();
      expect(l).toMatchObject({ topic: setup.topics.events, error_code: source.code });
      expect(l.message.length).toBeGreaterThan(0);
      expect(Number(l.offset)).toBeGreaterThanOrEqual(0);
    }

    // Metrics and health.
    expect(await child.metric('probewatch_dead_letters_total')).toBe(M);
    expect(await child.metric('probewatch_decode_errors_total')).toBe(M);
    expect(await child.metric('probewatch_events_processed_total')).toBe(N);
    expect(await child.metric('probewatch_state_snapshots_written_total')).toBeGreaterThanOrEqual(perKey.size);
    expect(await child.metric('probewatch_compute_backend_info')).toBe(1);
    expect((await child.get('/metrics')).text).toMatch(/probewatch_config_info\{sha256="[0-9a-f]{64}"\} 1/);
    const health = await child.get('/healthz');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.text)).toMatchObject({ healthy: true, status: 'joined', partitions: [0, 1, 2, 3] });

    // All of it committed; then SIGTERM stops it cleanly.
    const high = await highWatermarks(kafka, setup.topics.events);
    await waitFor(async () => {
      const committed = await committedOffsets(kafka, setup.groupId, setup.topics.events);
      return [...high].every(([p, h]) => h === 0n || committed.get(p) === h);
    }, 'offsets committed up to the high watermarks');
    expect(await child.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
