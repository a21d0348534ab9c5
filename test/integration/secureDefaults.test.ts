/**
 * `probewatch run` as shipped: /metrics and /healthz on loopback only unless
 * `http.host` says otherwise, and behind a bearer token read from a file
 * (PROBEWATCH_HTTP_TOKEN_FILE) that never reaches the logs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runConfig, runSetup, spawnProbewatch } from './helpers.ts';

const TOKEN = 'pw-token-7c1e0b5d92';

describe('secure defaults of probewatch run', () => {
  it('listens on 127.0.0.1 by default and asks for the bearer token from PROBEWATCH_HTTP_TOKEN_FILE', async () => {
    const setup = await runSetup('secure');
    const config = runConfig(setup) as { http: Record<string, unknown> };
    delete config.http.host;
    const dir = mkdtempSync(join(tmpdir(), 'pw-token-'));
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
    const pw = spawnProbewatch(config, { PROBEWATCH_HTTP_TOKEN_FILE: join(dir, 'token') });
    const port = await pw.port();
    expect(pw.findLog('http server listening')).toMatchObject({ host: '127.0.0.1', auth: 'bearer' });

    const url = (host: string, path: string) => `http://${host}:${port}${path}`;
    expect((await fetch(url('127.0.0.1', '/metrics'))).status).toBe(401);
    expect((await fetch(url('127.0.0.1', '/healthz'), { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const metrics = await fetch(url('127.0.0.1', '/metrics'), { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('probewatch_events_in_total');

    // Another interface of this machine, if it has one, is not served.
    const external = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (external) await expect(fetch(url(external, '/healthz'), { signal: AbortSignal.timeout(3_000) })).rejects.toThrow();

    await pw.joined();
    expect(await pw.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(pw.tail(10_000)).not.toContain(TOKEN);
    // Without PROBEWATCH_DECISION_KEY it says so, once.
    expect(pw.logs.filter((l) => String(l.msg).startsWith('decisions are not signed'))).toHaveLength(1);
  });
});
