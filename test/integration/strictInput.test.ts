import { describe, expect, it } from 'vitest';
import { deadLetterCodec } from '../../src/codec/contractCodecs.ts';
import type { InferenceEvent } from '../../src/contract.ts';
import { TopicCollector, ensureTopic, eventCodec, loadSnapshots, runConfig, runSetup, spawnProbewatch, testEvent, testKafka, testProducer, testRedis, waitFor } from './helpers.ts';

const sketch = (n: number) => Array.from({ length: n }, (_, i) => Math.fround(((i * 7) % 11) / 11 - 0.5));

/**
 * Hostile events between valid ones, all in one partition, through
 * `probewatch run` on the broker and Redis: each is dead-lettered with the
 * reason it broke, none is applied, and the valid events around them are
 * counted exactly (a year-2200 stamp must not move event time and evict).
 */
describe('strict input validation', () => {
  it('dead-letters each hostile event with its reason and applies none of them', async () => {
    const setup = await runSetup('strict');
    const kafka = await testKafka();
    const redis = testRedis(setup.keyPrefix);
    const start = Date.now() - 3_600_000;
    const keys = [`${setup.id}-a`, `${setup.id}-b`];
    const valid = (i: number): InferenceEvent[] => keys.map((k, j) => ({ ...testEvent(k, start + i * 60_000 + j, i), input_sketch: sketch(16) }));
    const base = (): InferenceEvent => ({ ...testEvent(`${setup.id}-x`, start + 20 * 60_000, 99), input_sketch: sketch(16) });
    const hostile: [string, InferenceEvent][] = [
      ['probs_sum', { ...base(), output_probs: [0.9, 0.9, 0.9], output_label: 0 }],
      ['probs_range', { ...base(), output_probs: [-0.5, 1.5], output_label: 1 }],
      ['vector_too_long', { ...base(), input_sketch: sketch(4_096) }],
      ['vector_too_long', { ...base(), output_probs: Array.from({ length: 4_096 }, () => 1 / 4_096), output_label: 0 }],
      ['status_range', { ...base(), status: -1 }],
      ['string_too_long', { ...base(), api_key: 'k'.repeat(200_000) }],
      ['string_too_long', { ...base(), model_id: 'm'.repeat(100_000) }],
      ['event_future', { ...base(), ts: Date.UTC(2200, 0, 1) }],
      ['event_late', { ...base(), ts: start - 2 * 86_400_000 }],
      ['sketch_width_changed', { ...base(), input_sketch: sketch(32) }],
      ['classes_changed', { ...base(), output_probs: [0.5, 0.25, 0.25], output_label: 0 }],
    ];
    const events = [...Array.from({ length: 20 }, (_, i) => valid(i)).flat(), ...hostile.map(([, e]) => e), ...Array.from({ length: 20 }, (_, i) => valid(20 + i)).flat()];
    await ensureTopic(kafka, setup.topics.events);
    const dlq = await TopicCollector.start(kafka, setup.topics.dlq);
    const producer = await testProducer(kafka);
    await producer.send({ topic: setup.topics.events, acks: -1, messages: events.map((e) => ({ key: e.api_key.slice(0, 64), value: eventCodec.encode(e), partition: 0 })) });

    const child = spawnProbewatch(runConfig(setup, { state: { dedupWindow: 0 } }));
    const snapshots = await waitFor(async () => {
      const s = await loadSnapshots(redis, setup.keyPrefix, keys);
      return keys.every((k) => (s.get(k)?.eventsSeen ?? 0) >= 40) && s;
    }, () => `the valid events applied\n${child.tail()}`, 90_000);
    await waitFor(() => dlq.messages.length >= hostile.length, () => `${hostile.length} dead letters (have ${dlq.messages.length})\n${child.tail()}`);
    const letters = dlq.messages.map((m) => deadLetterCodec.decode(m.message.value!)).sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset)));
    expect(letters.map((d) => [d.reason, d.error_code])).toEqual(hostile.map(([reason]) => [reason, 'PW_INVALID_EVENT']));
    for (const k of keys) {
      expect(snapshots.get(k)!.eventsSeen, k).toBe(40);
      expect(snapshots.get(k)!.lastTs, k).toBe(start + 39 * 60_000 + keys.indexOf(k));
    }
    // Nothing of a refused event was kept: no state for its key.
    expect((await loadSnapshots(redis, setup.keyPrefix, [`${setup.id}-x`])).size).toBe(0);
    expect(await child.metric('probewatch_events_processed_total')).toBe(80);
    expect(await child.metric('probewatch_invalid_events_total')).toBe(hostile.length);
    expect(await child.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
