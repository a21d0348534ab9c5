import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { frame } from '../../src/codec/confluentFraming.ts';
import { SimulatedTraffic } from '../../src/sim/SimulatedTraffic.ts';
import { DASHBOARD_DIR, DASHBOARDS } from '../../deploy/grafana/dashboards-src/dashboards.ts';
import { ensureTopic, eventCodec, REPO_ROOT, runConfig, runSetup, spawnProbewatch, testKafka, testProducer, testRedis, waitFor } from './helpers.ts';
import { PrometheusServer, type Sample } from './PrometheusServer.ts';

const ATTACKER = 'attacker-grid';
const RULES_DIR = join(REPO_ROOT, 'deploy/prometheus/rules');
/** What Grafana puts for $__rate_interval; wide enough for a loaded machine's late scrapes at 1 s. */
const RATE_INTERVAL = '30s';

interface Target {
  dashboard: string;
  panel: string;
  expr: string;
}

/** Every query of every checked-in dashboard, with Grafana's variables filled in as an analyst on the attacker's key would have them. */
function dashboardQueries(): Target[] {
  return DASHBOARDS.flatMap(({ file }) => {
    const d = JSON.parse(readFileSync(new URL(file, DASHBOARD_DIR), 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };
    return d.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ dashboard: file, panel: p.title, expr: t.expr.replaceAll('$__rate_interval', RATE_INTERVAL).replaceAll('$key', ATTACKER) })),
    );
  });
}

describe('dashboards and alerts against a real Prometheus scraping probewatch run', () => {
  it('every dashboard query returns data and the attack alert fires for the attacker only', async () => {
    const setup = await runSetup('prometheus');
    const kafka = await testKafka();
    testRedis(setup.keyPrefix);
    // The demo's population: benign users, a heavy batch scorer, a lattice-sweeping and a random-query attacker; 10 minutes of it.
    const start = Date.now() - 3_600_000;
    const traffic = new SimulatedTraffic(start, 11);
    const events = traffic.until(start + 10 * 60_000).map((e) => ({ ...e, event_id: `${setup.id}-${e.event_id}` }));
    const roles = traffic.roles();
    expect(roles.get(ATTACKER)).toBe('attacker');

    await ensureTopic(kafka, setup.topics.events);
    const child = spawnProbewatch(runConfig(setup));
    const port = await child.port();
    const ruleFiles = readdirSync(RULES_DIR).filter((f) => f.endsWith('.yml')).map((f) => join(RULES_DIR, f));
    const prometheus = await PrometheusServer.start({ targets: [`127.0.0.1:${port}`], job: 'probewatch', ruleFiles });
    const groups = await prometheus.rules();
    expect(groups.flatMap((g) => g.rules.map((r) => r.name))).toContain('ProbewatchKeyAtDeceiveOrBlock');
    await child.joined();

    const producer = await testProducer(kafka);
    for (let i = 0; i < events.length; i += 500) {
      await producer.send({ topic: setup.topics.events, acks: -1, messages: events.slice(i, i + 500).map((e) => ({ key: e.api_key, value: eventCodec.encode(e) })) });
    }
    // Two undecodable messages, so the dead-letter panel has something to show.
    await producer.send({ topic: setup.topics.events, acks: -1, messages: [{ key: 'bad-1', value: Buffer.from('not avro') }, { key: 'bad-2', value: frame(1, Buffer.from([0xff, 0xff, 0xff, 0x01])) }] });
    await waitFor(async () => (await child.metric('probewatch_events_in_total')) === events.length + 2, () => `every event read\n${child.tail()}`, 120_000);

    // Every panel's query returns at least one series, through Prometheus's HTTP API.
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThanOrEqual(20);
    let empty: Target[] = [];
    await waitFor(
      async () => {
        const results = await Promise.all(queries.map(async (q) => ({ q, result: await prometheus.query(q.expr) })));
        empty = results.filter((r) => r.result.length === 0).map((r) => r.q);
        return empty.length === 0;
      },
      () => `every dashboard query to return data; still empty:\n${empty.map((q) => `  ${q.dashboard} / ${q.panel}: ${q.expr}`).join('\n')}\n${prometheus.tail()}`,
      120_000,
      1_000,
    );
    // The key variable offers the attacker (Grafana's label_values(probewatch_top_key_risk, api_key)).
    expect(await prometheus.labelValues('api_key', 'probewatch_top_key_risk')).toContain(ATTACKER);

    // What the panels show is what probewatch holds: the attacker at the top of the ladder, dead letters counted.
    const value = (samples: Sample[]) => Number(samples[0].value[1]);
    expect(value(await prometheus.query(`max(probewatch_top_key_level{api_key="${ATTACKER}"})`))).toBeGreaterThanOrEqual(4);
    expect(value(await prometheus.query('sum(probewatch_dead_letters_total)'))).toBe(2);
    expect(value(await prometheus.query('sum(probewatch_keys_at_level)'))).toBe(new Set(events.map((e) => e.api_key)).size);

    // The attack alert fires for the attacker; no benign key raises it.
    const firing = await waitFor(
      async () => {
        const alerts = (await prometheus.alerts()).filter((a) => a.labels.alertname === 'ProbewatchKeyAtDeceiveOrBlock' && a.state === 'firing');
        return alerts.some((a) => a.labels.api_key === ATTACKER) && alerts;
      },
      () => `ProbewatchKeyAtDeceiveOrBlock firing for ${ATTACKER}\n${prometheus.tail()}`,
      60_000,
      500,
    );
    for (const a of firing) expect(roles.get(a.labels.api_key), `alert for ${a.labels.api_key}`).toBe('attacker');
    expect(firing[0].labels).toMatchObject({ severity: 'critical', job: 'probewatch' });
    // Rules evaluate cleanly against the real series.
    for (const r of (await prometheus.rules()).flatMap((g) => g.rules)) expect(r.health, `${r.name}: ${r.lastError ?? ''}`).not.toBe('err');

    expect(await child.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    // It exited by itself: no client was left connected after the shutdown (a lag read in flight once reconnected the admin).
    expect(child.logs.filter((l) => l.msg === 'still running after shutdown; exiting')).toEqual([]);
    // A hang guard above the waits' own (120 + 120 + 60 s), so a slow phase fails with its message, not the runner's.
  }, 420_000);
});
