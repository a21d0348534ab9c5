/**
 * The example gateway end to end: `examples/gateway` (a child process
 * serving the quality benchmark's victim model over HTTP) → GatewayEmitter
 * → the real Kafka-protocol broker → `./bin/probewatch run` (default
 * detectors) → Redis decisions and pub/sub → the gateway's DecisionReader and
 * enforcer. Three HTTP clients call at the same pace, each from its own
 * loopback network: an attacker sweeping a lattice over the documented
 * feature ranges must be degraded within a bounded number of queries; a
 * benign client sending held-out Seattle days gets the model's own answers
 * throughout; an allowlisted red team sweeping the same lattice is never
 * degraded although probewatch scores it as high as the attacker. Event
 * times are the real clock.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { latticeLevels, latticePoints } from '../../benchmarks/quality/attacks/LatticeSweep.ts';
import { argmax } from '../../benchmarks/quality/Classifier.ts';
import { Rng } from '../../benchmarks/quality/Rng.ts';
import { buildVictimWorld } from '../../benchmarks/quality/Victim.ts';
import { FEATURES, RESOLUTION, loadWeatherData } from '../../benchmarks/quality/weatherData.ts';
import { riskScoreCodec } from '../../src/codec/contractCodecs.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { type Level, type RiskScore, levelRank } from '../../src/contract.ts';
import { hashInput } from '../../src/gateway/buildEvent.ts';
import { loadHmacKey } from '../../src/gateway/hmacKey.ts';
import { decisionFromHash, decisionRedisKey } from '../../src/sinks/RedisDecisionStore.ts';
import type { ModelCard } from '../../examples/gateway/WeatherModel.ts';
import { ProbewatchProcess, REPO_ROOT, TopicCollector, eventCodec, onCleanup, runConfig, runSetup, spawnProbewatch, testKafka, testRedis, waitFor } from './helpers.ts';

/** Calls per minute of every client: under the per-key volume default (100/min), so volume alone flags nobody. */
const PER_MINUTE = 80;
/** The attacker must be degraded within this many queries (the quality benchmark's lattice reaches truncate at 70). */
const ATTACK_BOUND = 120;
/** Benign and red-team clients go on this many queries past the attacker's degradation (decisions take a poll or two to arrive). */
const MARGIN = 15;
/** The quality benchmark's lattice: the full-factorial grid that fits 2,000 queries. */
const LATTICE_BUDGET = 2_000;
const MODEL = { id: 'seattle-weather', seed: 1, hidden: [32, 32], passes: 40_000 };

interface HttpClient {
  id: string;
  secret: string;
  /** Source address: each client comes from its own /24, as separate customers would. */
  localAddress: string;
  tenant: string;
}

interface Reply {
  status: number;
  body: { label?: number; class?: string; probs?: number[]; error?: string };
  headers: Record<string, string | string[] | undefined>;
}

function call(port: number, agent: Agent, client: HttpClient, method: string, path: string, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, agent, localAddress: client.localAddress, headers: { 'x-api-key': client.secret, 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : {}, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Rounds raw values to the documented resolution (0.1 mm/°C/m·s, whole days), as a client of the API must. */
function toResolution(raw: readonly number[]): number[] {
  return raw.map((v, j) => Number((Math.round(v / RESOLUTION[j]) * RESOLUTION[j]).toFixed(Math.max(0, Math.round(-Math.log10(RESOLUTION[j]))))));
}

/** The request body in `FEATURES` order: byte for byte the gateway's canonical input. */
function bodyOf(raw: readonly number[]): string {
  return JSON.stringify(Object.fromEntries(FEATURES.map((f, j) => [f, raw[j]])));
}

/** Calls `step` at about `perMinute`, each gap jittered by ±30 %, until it returns false. */
async function paced(rng: Rng, perMinute: number, step: (i: number) => Promise<boolean>): Promise<void> {
  let next = performance.now();
  for (let i = 0; ; i++) {
    if (!(await step(i))) return;
    next += (60_000 / perMinute) * rng.uniform(0.7, 1.3);
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

describe('example gateway with probewatch, the broker and Redis', () => {
  it('degrades an attacker within a bounded number of queries; a benign and an allowlisted client at the same rate are untouched', async () => {
    const wallStart = performance.now();
    const setup = await runSetup('exgw');
    const kafka = await testKafka();
    const redis = testRedis(setup.keyPrefix);
    const clients: Record<'attacker' | 'benign' | 'redteam', HttpClient> = {
      attacker: { id: 'mallory', secret: randomBytes(24).toString('hex'), localAddress: '127.0.1.10', tenant: 'acme-scraping' },
      benign: { id: 'alice', secret: randomBytes(24).toString('hex'), localAddress: '127.0.2.10', tenant: 'weather-app' },
      redteam: { id: 'redteam', secret: randomBytes(24).toString('hex'), localAddress: '127.0.3.10', tenant: 'security' },
    };

    // Detector settings are the defaults; only RiskScores are published more often, to watch the red team's risk.
    const pwDoc = runConfig(setup, { policy: { allowlist: [clients.redteam.id] }, publish: { riskEveryEvents: 10 } });
    const pwConfig = parseConfig(pwDoc);
    const truncateAt = pwConfig.policy.thresholds.truncate;
    // probewatch signs its decisions and the gateway verifies them with the same key.
    const decisionKeyEnv = `hex:${randomBytes(32).toString('hex')}`;
    const probewatch = spawnProbewatch(pwDoc, { PROBEWATCH_DECISION_KEY: decisionKeyEnv });

    const dir = mkdtempSync(join(tmpdir(), 'pw-exgw-'));
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'probewatch.yaml'), toYaml(pwDoc));
    writeFileSync(
      join(dir, 'gateway.yaml'),
      toYaml({ http: { host: '127.0.0.1', port: 0 }, model: MODEL, keys: Object.values(clients).map((c) => ({ id: c.id, tenant: c.tenant })) }),
    );
    const hmacEnv = `hex:${randomBytes(32).toString('hex')}`;
    const hmacKey = loadHmacKey({ PROBEWATCH_HMAC_KEY: hmacEnv });
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PROBEWATCH_') && !k.startsWith('GATEWAY_')));
    const gateway = new ProbewatchProcess(
      spawn(process.execPath, ['--import', 'tsx', 'examples/gateway/main.ts', '-c', join(dir, 'probewatch.yaml'), '-g', join(dir, 'gateway.yaml')], {
        cwd: REPO_ROOT,
        env: { ...inherited, PROBEWATCH_HMAC_KEY: hmacEnv, PROBEWATCH_DECISION_KEY: decisionKeyEnv, GATEWAY_API_KEYS: Object.values(clients).map((c) => `${c.id}=${c.secret}`).join(',') },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    onCleanup(async () => {
      if (gateway.running) await gateway.stop('SIGKILL');
    });

    // The test's own copy of the model (same seed, same weights) is the reference for "untouched".
    await tf.setBackend('cpu');
    await tf.ready();
    const world = buildVictimWorld(loadWeatherData(), { seed: MODEL.seed, hidden: MODEL.hidden, passes: MODEL.passes });
    const reference = (raw: readonly number[]) => world.victim.predict([world.standardizer.apply(raw)])[0];

    await probewatch.joined();
    const port = await waitFor(() => gateway.findLog('gateway listening')?.port as number | undefined, () => `the gateway to listen\n${gateway.tail()}`, 90_000);
    const events = await TopicCollector.start(kafka, setup.topics.events);
    const risk = await TopicCollector.start(kafka, setup.topics.risk);
    const agents = Object.fromEntries(Object.keys(clients).map((k) => [k, new Agent({ keepAlive: true, maxSockets: 1 })])) as Record<keyof typeof clients, Agent>;
    onCleanup(() => Object.values(agents).forEach((a) => a.destroy()));

    const health = await call(port, agents.benign, clients.benign, 'GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ healthy: true, decisionStore: 'fresh' });
    expect((await call(port, agents.benign, { ...clients.benign, secret: 'not-a-key' }, 'POST', `/v1/models/${MODEL.id}/predict`, bodyOf([0, 10, 5, 3, 100]))).status).toBe(401);

    // The attacker reads the documented ranges and sweeps the benchmark's lattice over them.
    const card = (await call(port, agents.attacker, clients.attacker, 'GET', `/v1/models/${MODEL.id}`)).body as unknown as ModelCard;
    expect(card.features.map((f) => f.name)).toEqual([...FEATURES]);
    const box = { lo: card.features.map((f) => f.min), hi: card.features.map((f) => f.max) };
    const lattice = latticePoints(box, latticeLevels(FEATURES.length, LATTICE_BUDGET)).map(toResolution);
    const natural = world.test.map((r) => r.raw);

    const sent: Record<keyof typeof clients, string[]> = { attacker: [], benign: [], redteam: [] };
    const predict = async (who: keyof typeof clients, raw: readonly number[]) => {
      const body = bodyOf(raw);
      sent[who].push(body);
      const reply = await call(port, agents[who], clients[who], 'POST', `/v1/models/${MODEL.id}/predict`, body);
      const expected = reference(raw);
      const untouched =
        reply.status === 200 && JSON.stringify(reply.body.probs) === JSON.stringify(expected) && reply.body.label === argmax(expected) && reply.body.class === world.classes[argmax(expected)];
      return { reply, untouched };
    };
    const redteamRisks = (): RiskScore[] => risk.messages.map((m) => riskScoreCodec.decode(m.message.value!)).filter((r) => r.api_key === clients.redteam.id);

    let degradedAt: number | undefined;
    let degradedReply: Reply | undefined;
    let attackerDone = false;
    const touched: Record<'benign' | 'redteam', { query: number; reply: Reply }[]> = { benign: [], redteam: [] };
    const rng = new Rng(5);
    const followers = (who: 'benign' | 'redteam', inputs: number[][]) =>
      paced(rng.fork(who), PER_MINUTE, async (i) => {
        const { reply, untouched } = await predict(who, inputs[i % inputs.length]);
        if (!untouched) touched[who].push({ query: i + 1, reply });
        const pastAttacker = attackerDone && i + 1 >= (degradedAt ?? ATTACK_BOUND) + MARGIN;
        const sawHighRisk = who === 'benign' || redteamRisks().some((r) => r.risk >= truncateAt);
        return !(pastAttacker && sawHighRisk) && i + 1 < ATTACK_BOUND + 3 * MARGIN;
      });
    const attackStart = performance.now();
    await Promise.all([
      paced(rng.fork('attacker'), PER_MINUTE, async (i) => {
        const { reply, untouched } = await predict('attacker', lattice[i]);
        if (!untouched) {
          degradedAt = i + 1;
          degradedReply = reply;
        }
        attackerDone = degradedAt !== undefined || i + 1 >= ATTACK_BOUND;
        return !attackerDone;
      }),
      followers('benign', natural),
      followers('redteam', lattice),
    ]);
    const attackSeconds = (performance.now() - attackStart) / 1000;
    console.log(
      `example gateway: attacker degraded after ${degradedAt ?? 'never'} queries (bound ${ATTACK_BOUND}, ${PER_MINUTE}/min, answer: ${degradedReply?.status} ${JSON.stringify(degradedReply?.body)}); ` +
        `benign ${sent.benign.length} and red-team ${sent.redteam.length} queries untouched; clients ran ${attackSeconds.toFixed(0)} s`,
    );

    expect(degradedAt, `the attacker was never degraded within ${ATTACK_BOUND} queries\n${probewatch.tail()}`).toBeDefined();
    expect(degradedAt).toBeLessThanOrEqual(ATTACK_BOUND);
    expect(touched.benign).toEqual([]);
    expect(touched.redteam).toEqual([]);
    expect(sent.benign.length).toBeGreaterThanOrEqual(degradedAt! + MARGIN);
    expect(sent.redteam.length).toBeGreaterThanOrEqual(degradedAt! + MARGIN);

    // The allowlist, not a missed detection, spared the red team: probewatch scored it at truncate or above and kept it at allow.
    const highest = redteamRisks().reduce((a, r) => Math.max(a, r.risk), 0);
    expect(highest, 'the red team, sweeping the same lattice, should score like the attacker').toBeGreaterThanOrEqual(truncateAt);
    expect(redteamRisks().every((r) => r.level === 'allow')).toBe(true);
    const stored = async (id: string) => decisionFromHash(id, await redis.hgetall(decisionRedisKey(setup.keyPrefix, id)));
    expect(levelRank((await stored(clients.attacker.id))!.level)).toBeGreaterThanOrEqual(levelRank('throttle'));
    expect((await stored(clients.redteam.id))?.level ?? 'allow').toBe('allow');
    expect(levelRank((await stored(clients.benign.id))?.level ?? 'allow')).toBeLessThanOrEqual(levelRank('observe'));

    // SIGTERM: the gateway drains, flushes every event to Kafka and exits 0.
    expect(await gateway.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const total = sent.attacker.length + sent.benign.length + sent.redteam.length;
    expect(gateway.findLog('stopped')?.events).toMatchObject({ accepted: total, sent: total, buffered: 0 });
    await waitFor(() => events.messages.length >= total, `all ${total} events on the broker`, 30_000);
    const byKey = (id: string) => events.messages.map((m) => eventCodec.decode(m.message.value!)).filter((e) => e.api_key === id).sort((a, b) => a.ts - b.ts);
    for (const [who, client] of Object.entries(clients) as [keyof typeof clients, HttpClient][]) {
      const own = byKey(client.id);
      expect(own).toHaveLength(sent[who].length);
      // Raw inputs never leave the gateway: the keyed hash of the request and a 16-wide sketch do.
      own.forEach((e, i) => expect(e.input_hash.equals(hashInput(sent[who][i], hmacKey)), `${who} event ${i} hash`).toBe(true));
      expect(own.every((e) => e.input_sketch.length === 16 && e.model_id === MODEL.id && e.tenant === client.tenant && e.client_ip === client.localAddress)).toBe(true);
    }
    const levels = (id: string) => byKey(id).map((e) => e.enforcement as Level);
    expect(levels(clients.redteam.id).every((l) => l === 'allow')).toBe(true);
    expect(levels(clients.benign.id).every((l) => levelRank(l) <= levelRank('observe'))).toBe(true);
    // An answer the gateway altered is reported with the model's own beside it (a full vector, its top-1 the label); the others are not.
    for (const e of byKey(clients.attacker.id)) {
      const altered = e.status === 200 && (e.enforcement === 'truncate' || e.enforcement === 'deceive');
      expect(e.model_label !== undefined, `attacker event at ${e.enforcement}, status ${e.status}`).toBe(altered);
      if (altered) expect(e.model_probs![e.model_label!]).toBe(Math.max(...e.model_probs!));
    }
    // The degraded answer was served under an enforced level of throttle or above (the event records the level applied).
    expect(levelRank(levels(clients.attacker.id)[degradedAt! - 1])).toBeGreaterThanOrEqual(levelRank('throttle'));
    console.log(`example gateway: the degraded answer was served at level ${levels(clients.attacker.id)[degradedAt! - 1]}; test wall time ${((performance.now() - wallStart) / 1000).toFixed(0)} s`);
  });
});
