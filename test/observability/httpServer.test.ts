import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningHttpServer, startHttpServer } from '../../src/observability/httpServer.ts';
import { silentLogger } from '../../src/observability/logger.ts';

describe('startHttpServer', () => {
  let server: RunningHttpServer | undefined;
  afterEach(async () => server?.close());

  it('binds port 0 to a free port and serves /metrics and /healthz', async () => {
    const registry = new Registry();
    new Counter({ name: 'pw_test_total', help: 'test', registers: [registry] }).inc(3);
    let health = { healthy: false, status: 'starting' };
    server = await startHttpServer({ host: '127.0.0.1', port: 0, registry, health: () => health, logger: silentLogger() });
    expect(server.port).toBeGreaterThan(0);
    const base = `http://127.0.0.1:${server.port}`;

    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('pw_test_total 3');

    const down = await fetch(`${base}/healthz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ healthy: false, status: 'starting' });
    health = { healthy: true, status: 'joined' };
    const up = await fetch(`${base}/healthz`);
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual(health);

    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('with a token, answers 401 without the right bearer token and serves with it', async () => {
    const registry = new Registry();
    new Counter({ name: 'pw_test_total', help: 'test', registers: [registry] }).inc(1);
    server = await startHttpServer({ host: '127.0.0.1', port: 0, registry, health: () => ({ healthy: true }), logger: silentLogger(), token: 'tok-3f9a' });
    const base = `http://127.0.0.1:${server.port}`;
    for (const path of ['/metrics', '/healthz']) {
      const none = await fetch(`${base}${path}`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="probewatch"');
      expect((await fetch(`${base}${path}`, { headers: { authorization: 'Bearer tok-3f9' } })).status).toBe(401);
      expect((await fetch(`${base}${path}`, { headers: { authorization: 'Basic tok-3f9a' } })).status).toBe(401);
      expect((await fetch(`${base}${path}`, { headers: { authorization: 'Bearer tok-3f9a' } })).status).toBe(200);
    }
  });
});
