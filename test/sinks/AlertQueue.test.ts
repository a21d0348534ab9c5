import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.ts';
import { AlertQueue } from '../../src/sinks/AlertQueue.ts';
import type { SiemAlert } from '../../src/sinks/SiemAlert.ts';
import { WebhookAlertTarget } from '../../src/sinks/WebhookAlertTarget.ts';
import { startSiemServer } from '../helpers/siemServer.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function siem(statuses: number[]) {
  const server = await startSiemServer(statuses);
  closers.push(server.close);
  return server;
}

function alert(n: number): SiemAlert {
  return {
    type: 'probewatch.alert',
    version: 1,
    id: `k${n}/1/throttle`,
    api_key: `k${n}`,
    tenant: null,
    level: 'throttle',
    previous_level: 'allow',
    risk: 0.6,
    ts: 1,
    time: new Date(1).toISOString(),
    events_seen: 10,
    detectors: { volume: 0.6 },
    evidence: ['volume: many calls'],
    decision: { level: 'throttle', reason: 'risk 0.6', expires_at: 2, shadow: false },
  };
}

function queueFor(url: string, options: { capacity?: number; maxAttempts?: number; authValue?: string } = {}) {
  const logs: Record<string, unknown>[] = [];
  const metrics = createMetrics();
  const target = new WebhookAlertTarget({ url, authHeader: 'authorization', authValue: options.authValue, timeoutMs: 2_000 });
  const queue = new AlertQueue(target, {
    capacity: options.capacity ?? 100,
    baseMs: 20,
    maxMs: 100,
    maxAttempts: options.maxAttempts ?? 10,
    logger: pino({ level: 'info' }, { write: (l: string) => void logs.push(JSON.parse(l)) }),
    metrics,
  });
  const count = async (result: string) => (await metrics.alerts.get()).values.find((v) => v.labels.result === result && v.labels.target === 'webhook')?.value ?? 0;
  return { queue, logs, metrics, count };
}

describe('AlertQueue with a webhook', () => {
  it('POSTs each alert as JSON with the auth header, retrying a server that fails first', async () => {
    const server = await siem([503, 500, 200]);
    const { queue, logs, count } = queueFor(server.url, { authValue: 'Bearer s3cret-token' });
    queue.push(alert(1));
    queue.push(alert(2));
    await expect.poll(() => count('sent'), { timeout: 5_000 }).toBe(2);
    expect(server.received).toHaveLength(4);
    const bodies = server.received.map((r) => JSON.parse(r.body) as SiemAlert);
    expect(bodies.map((b) => b.api_key)).toEqual(['k1', 'k1', 'k1', 'k2']);
    expect(bodies[3]).toEqual(alert(2));
    for (const r of server.received) {
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers.authorization).toBe('Bearer s3cret-token');
      expect(r.body).not.toContain('s3cret');
    }
    const retries = logs.filter((l) => l.msg === 'alert delivery failed; retrying');
    expect(retries.map((l) => l.err)).toEqual([expect.stringMatching(/answered 503/), expect.stringMatching(/answered 500/)]);
    // Neither the token nor the URL's query string reaches the logs.
    expect(JSON.stringify(logs)).not.toMatch(/s3cret|in-url/);
    await queue.close(1_000);
  });

  it('gives up at once on an answer that retrying cannot change, and after maxAttempts otherwise', async () => {
    const rejecting = await siem([400]);
    const a = queueFor(rejecting.url);
    a.queue.push(alert(1));
    await expect.poll(() => a.count('failed'), { timeout: 5_000 }).toBe(1);
    expect(rejecting.received).toHaveLength(1);

    const down = await siem([503]);
    const b = queueFor(down.url, { maxAttempts: 3 });
    b.queue.push(alert(1));
    await expect.poll(() => b.count('failed'), { timeout: 5_000 }).toBe(1);
    expect(down.received).toHaveLength(3);
  });

  it('keeps a bounded queue while the SIEM is down, dropping the oldest waiting alerts (counted)', async () => {
    // Nothing listens on this port: every attempt fails to connect.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const { queue, count, metrics } = queueFor(`http://127.0.0.1:${port}/`, { capacity: 3 });
    for (let i = 1; i <= 6; i++) queue.push(alert(i));
    // One in flight, three waiting, two dropped.
    expect(queue.length).toBe(3);
    expect(await count('dropped')).toBe(2);
    expect((await metrics.alertQueue.get()).values[0].value).toBe(3);
    await queue.close(50);
    expect(await count('dropped')).toBe(6);
    expect(await count('sent')).toBe(0);
  });
});
