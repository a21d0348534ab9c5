import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { riskScoreCodec } from '../../src/codec/contractCodecs.ts';
import { detectionConfigHash, loadConfig } from '../../src/config/loadConfig.ts';
import { levelRank } from '../../src/contract.ts';
import type { SiemAlert } from '../../src/sinks/SiemAlert.ts';
import { startSiemServer } from '../helpers/siemServer.ts';
import { type ProbewatchProcess, TopicCollector, keyStream, onCleanup, runConfig, runSetup, spawnProbewatch, testKafka, testProducer, testRedis, waitFor } from './helpers.ts';

/** The value of one sample of `/metrics` (labels matched exactly as written), or undefined. */
async function sample(child: ProbewatchProcess, name: string, labels = ''): Promise<number | undefined> {
  const { text } = await child.get('/metrics');
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

async function liveHash(child: ProbewatchProcess): Promise<string[]> {
  const { text } = await child.get('/metrics');
  return [...text.matchAll(/^probewatch_config_info\{sha256="([0-9a-f]{64})"\} 1$/gm)].map((m) => m[1]);
}

const reloads = async (child: ProbewatchProcess, result: string) => (await sample(child, 'probewatch_config_reload_total', `result="${result}"`)) ?? 0;

// Thresholds the attacker's risk (volume alone: at most 0.65) never reaches.
const HIGH = { observe: 0.9, throttle: 0.92, truncate: 0.94, deceive: 0.96, block: 0.98 };

describe('probewatch run: hot reload on SIGHUP, and alerts to a SIEM', () => {
  it('swaps in a valid config with state kept, refuses an invalid one, reports restart-only settings, and alerts on the escalation', async () => {
    const setup = await runSetup('reload');
    const kafka = await testKafka();
    testRedis(setup.keyPrefix);
    const hook = await startSiemServer([503, 200]);
    onCleanup(hook.close);
    const alertsTopic = `${setup.id}.alerts`;
    const document = (policy: Record<string, unknown>, kafkaOver: Record<string, unknown> = {}) =>
      runConfig(setup, {
        policy,
        kafka: kafkaOver,
        publish: { riskEveryEvents: 10 },
        alerts: { minLevel: 'throttle', topic: alertsTopic, webhook: { url: hook.url }, retry: { baseMs: 100, maxMs: 400 } },
      });
    const child = spawnProbewatch(document({ thresholds: HIGH }), { PROBEWATCH_ALERT_WEBHOOK_AUTH: 'Bearer s3cret-webhook-token' });
    const file = child.child.spawnargs.at(-1)!;
    const [risk, alerts] = await Promise.all([TopicCollector.start(kafka, setup.topics.risk), TopicCollector.start(kafka, alertsTopic)]);
    await child.joined();
    const hash1 = detectionConfigHash(loadConfig(file));
    expect(await liveHash(child)).toEqual([hash1]);

    // Well over the volume limit, but under the high thresholds: no level change.
    const attacker = `${setup.id}-attacker`;
    const stream = keyStream(attacker, 250, Date.now() - 30_000, 100);
    const producer = await testProducer(kafka);
    await producer.send({ topic: setup.topics.events, acks: -1, messages: stream.messages.slice(0, 150) });
    await waitFor(async () => (await sample(child, 'probewatch_events_processed_total')) === 150, () => `150 events processed\n${child.tail()}`);
    expect((await sample(child, 'probewatch_level_changes_total')) ?? 0).toBe(0);

    // An invalid config: refused, named, counted; the old one stays live.
    writeFileSync(file, toYaml(document({ thresholds: { ...HIGH, observe: 2 } })));
    child.child.kill('SIGHUP');
    await waitFor(async () => (await reloads(child, 'refused')) === 1, () => `a refused reload\n${child.tail()}`);
    expect(child.running).toBe(true);
    expect(child.logs.find((l) => String(l.msg).startsWith('config reload refused'))?.msg).toMatch(/policy\.thresholds\.observe: .*<=1/);
    expect(await liveHash(child)).toEqual([hash1]);

    // A setting that cannot change live: reported as needing a restart, not applied.
    writeFileSync(file, toYaml(document({ thresholds: HIGH }, { topics: { ...setup.topics, events: `${setup.id}.elsewhere` } })));
    child.child.kill('SIGHUP');
    await waitFor(async () => (await reloads(child, 'unchanged')) === 1, () => `an unchanged reload\n${child.tail()}`);
    expect(child.logs.find((l) => String(l.msg).includes('restart needed'))).toMatchObject({ settings: ['kafka.topics.events'] });
    expect(await sample(child, 'probewatch_config_restart_pending')).toBe(1);
    expect(await liveHash(child)).toEqual([hash1]);

    // Default thresholds: applied between batches, the hash follows.
    writeFileSync(file, toYaml(document({})));
    child.child.kill('SIGHUP');
    await waitFor(async () => (await reloads(child, 'applied')) === 1, () => `an applied reload\n${child.tail()}`);
    const hash2 = detectionConfigHash(loadConfig(file));
    expect(hash2).not.toBe(hash1);
    expect(await liveHash(child)).toEqual([hash2]);
    expect(await sample(child, 'probewatch_config_restart_pending')).toBe(0);
    expect(child.running).toBe(true);

    // The next events meet the new thresholds, on the key's state from before the reload.
    await producer.send({ topic: setup.topics.events, acks: -1, messages: stream.messages.slice(150) });
    const scores = () => risk.messages.map((m) => riskScoreCodec.decode(m.message.value!)).filter((s) => s.api_key === attacker);
    const escalated = await waitFor(() => scores().find((s) => levelRank(s.level) >= levelRank('throttle')), () => `the attacker throttled\n${child.tail()}`);
    expect(escalated.events_seen).toBeGreaterThan(150);
    expect(scores().filter((s) => s.events_seen <= 150).every((s) => s.level === 'allow')).toBe(true);

    // The webhook failed once, then took the alert; the topic has the same alert.
    const delivered = await waitFor(() => hook.received.find((r) => r.status === 200), () => `the webhook to take an alert\n${child.tail()}`);
    expect(hook.received[0].status).toBe(503);
    expect(hook.received[0].body).toBe(delivered.body);
    const alert = JSON.parse(delivered.body) as SiemAlert;
    expect(alert).toMatchObject({ type: 'probewatch.alert', api_key: attacker, previous_level: 'allow', level: escalated.level, risk: escalated.risk, events_seen: escalated.events_seen });
    expect(alert.decision.level).toBe(escalated.level);
    expect(alert.evidence.join(' ')).toMatch(/volume: /);
    expect(delivered.headers.authorization).toBe('Bearer s3cret-webhook-token');
    const onTopic = await waitFor(() => alerts.messages[0], 'an alert on the alerts topic');
    expect(onTopic.message.key!.toString()).toBe(attacker);
    expect(JSON.parse(onTopic.message.value!.toString())).toEqual(alert);
    await waitFor(async () => (await sample(child, 'probewatch_alerts_total', 'target="webhook",result="sent"')) === 1, 'the webhook alert counted');
    await waitFor(async () => (await sample(child, 'probewatch_alerts_total', 'target="kafka",result="sent"')) === 1, 'the topic alert counted');
    expect(alerts.messages).toHaveLength(1);

    // No secret anywhere it should not be.
    for (const r of hook.received) expect(r.body).not.toContain('s3cret');
    expect(onTopic.message.value!.toString()).not.toContain('s3cret');
    expect(await child.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(child.tail(100_000)).not.toMatch(/s3cret|token=in-url/);
  }, 180_000);
});
