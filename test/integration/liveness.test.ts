/**
 * A stall must show: `probewatch run` on its own redis-server, which the
 * test freezes (SIGSTOP: connections stay open, nothing answers, no error
 * is raised) while messages wait. /healthz turns 503 with the reason, the
 * lag gauge (read from the broker's high watermarks on a timer) counts the
 * waiting messages, and one warning names redis. SIGCONT: it recovers.
 */
import { describe, expect, it } from 'vitest';
import { ensureTopic, eventCodec, runConfig, runSetup, spawnProbewatch, testEvent, testKafka, testProducer, waitFor } from './helpers.ts';
import { OwnRedis } from './ownRedis.ts';

describe('liveness', () => {
  it('Redis frozen while messages wait: /healthz 503 with a reason, lag > 0, one warning naming redis; thawed: healthy, lag 0', async () => {
    const own = await OwnRedis.started();
    const setup = await runSetup('stall');
    const kafka = await testKafka();
    await ensureTopic(kafka, setup.topics.events);
    const producer = await testProducer(kafka);
    let n = 0;
    const send = (count: number) => {
      const ts = Date.now();
      const messages = Array.from({ length: count }, () => {
        const e = testEvent(`${setup.id}-k${n % 20}`, ts, n++);
        return { key: e.api_key, value: eventCodec.encode(e) };
      });
      return producer.send({ topic: setup.topics.events, acks: -1, messages });
    };
    const pw = spawnProbewatch(runConfig(setup, { redis: { url: own.url }, health: { stallAfterMs: 3_000, lagEveryMs: 250, stuckAfterMs: 1_500 } }));
    await pw.joined();
    await send(100);
    await waitFor(async () => (await pw.metric('probewatch_events_processed_total')) === 100, () => `100 events processed\n${pw.tail()}`, 60_000);
    await waitFor(async () => (await pw.get('/healthz')).status === 200 && (await pw.metric('probewatch_consumer_lag')) === 0, 'healthy and caught up', 20_000);

    own.freeze();
    const frozenAt = Date.now();
    await send(2_000);
    const unhealthy = await waitFor(async () => {
      const r = await pw.get('/healthz');
      return r.status === 503 && (JSON.parse(r.text) as { reason?: string; lag?: number; stuck?: { dependency: string }[] });
    }, () => `/healthz to fail\n${pw.tail()}`, 30_000, 200);
    // Not before the stall window (3 s), give or take the lag timer's 250 ms steps and the two processes' scheduling (2,975 ms was seen).
    expect(Date.now() - frozenAt).toBeGreaterThanOrEqual(2_500);
    expect(unhealthy.reason).toMatch(/^no batch completed for \d+ s while \d+ messages wait; waiting on redis/);
    expect(unhealthy.lag).toBeGreaterThan(0);
    expect(unhealthy.stuck?.map((s) => s.dependency)).toContain('redis');
    expect(await pw.metric('probewatch_consumer_lag')).toBeGreaterThan(0);
    const stuckLogs = () => pw.logs.filter((l) => l.level === 40 && l.dependency === 'redis' && l.msg === 'redis is not answering');
    // Still frozen a while later: still one warning, not one per retry or per call.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(stuckLogs()).toHaveLength(1);
    expect(await pw.metric('probewatch_dependency_stuck')).toBe(1);

    own.thaw();
    await waitFor(async () => (await pw.get('/healthz')).status === 200, () => `/healthz to recover\n${pw.tail()}`, 30_000, 200);
    await waitFor(async () => (await pw.metric('probewatch_events_processed_total')) === 2_100, () => `every event processed\n${pw.tail()}`, 60_000);
    await waitFor(async () => (await pw.metric('probewatch_consumer_lag')) === 0, 'the lag back to 0', 20_000);
    expect(pw.findLog('redis is answering again')).toMatchObject({ dependency: 'redis' });
    expect(stuckLogs()).toHaveLength(1);
    expect(await pw.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
