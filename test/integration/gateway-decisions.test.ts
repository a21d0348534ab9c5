/**
 * The gateway's DecisionReader against real Redis servers: the shared one at
 * 127.0.0.1:6379 (unique key prefix and channel per test) and, for outages,
 * a redis-server this file starts on a spare port and stops.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Decision, Level } from '../../src/contract.ts';
import { DecisionReader, type DecisionReaderOptions } from '../../src/gateway/DecisionReader.ts';
import { RedisDecisionStore, decisionFromHash, decisionRedisKey } from '../../src/sinks/RedisDecisionStore.ts';
import { REDIS_URL, deletePrefix, onCleanup, testRedis, uniqueName, waitFor } from './helpers.ts';

function names() {
  const id = uniqueName('gw');
  return { keyPrefix: `pwtest:${id}:`, channel: `pwtest:${id}:decisions` };
}

function decision(apiKey: string, level: Level, over: Partial<Decision> = {}): Decision {
  return { api_key: apiKey, level, reason: `${level} for ${apiKey}`, expires_at: Date.now() + 600_000, shadow: false, ...over };
}

function startReader(redis: Redis, opts: DecisionReaderOptions): DecisionReader {
  const reader = new DecisionReader(redis, { heartbeatMs: 100, reconnectMaxMs: 200, ...opts });
  onCleanup(() => reader.close());
  return reader;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A throw-away redis-server of our own on `port`, so an outage hurts nobody else. */
class OwnRedis {
  private child: ChildProcess | undefined;
  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    this.child = child;
    onCleanup(() => this.stop());
    const probe = new Redis({ port: this.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    await waitFor(async () => {
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        probe.disconnect();
        return false;
      }
    }, `redis-server on port ${this.port}`, 10_000, 50);
    probe.disconnect();
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

/**
 * A started `OwnRedis` on a free port and a client of it (by default one that
 * retries every 100 ms through outages); the client's errors are swallowed:
 * the tests watch the reader, not the client.
 */
async function ownRedisClient(options: RedisOptions = { maxRetriesPerRequest: 1, retryStrategy: () => 100 }): Promise<{ own: OwnRedis; redis: Redis }> {
  const own = new OwnRedis(await freePort());
  await own.start();
  const redis = new Redis({ port: own.port, ...options });
  redis.on('error', () => {});
  onCleanup(() => redis.disconnect());
  return { own, redis };
}

describe('DecisionReader on real Redis', () => {
  it('loads a snapshot at start: levels, shadow flag, expiry; an unknown key is allowed', async () => {
    const { keyPrefix, channel } = names();
    const redis = testRedis(keyPrefix);
    const store = new RedisDecisionStore(redis, { keyPrefix, channel });
    const until = Date.now() + 600_000;
    await store.publish([
      decision('attacker', 'truncate', { expires_at: until, reason: 'volume 400/min' }),
      decision('shadowed', 'block', { shadow: true }),
      decision('lapsed', 'throttle', { expires_at: Date.now() - 1 }),
    ]);
    const reader = startReader(redis, { keyPrefix, channel });
    expect(await reader.start()).toBe(true);

    expect(reader.decisionFor('attacker')).toEqual({ level: 'truncate', shadow: false, enforce: 'truncate', expiresAt: until, reason: 'volume 400/min', source: 'decision' });
    expect(reader.decisionFor('shadowed')).toMatchObject({ level: 'block', shadow: true, enforce: 'allow', source: 'decision' });
    expect(reader.decisionFor('lapsed')).toMatchObject({ level: 'allow', source: 'default' });
    expect(reader.decisionFor('stranger')).toMatchObject({ level: 'allow', enforce: 'allow', expiresAt: null, source: 'default' });
    expect(reader.counters()).toMatchObject({ snapshots: 1, cached: 2, failedOpen: 0, failedClosed: 0 });
  });

  it('applies no group decision to anyone, from the snapshot or the channel; Redis holds it under its own slot', async () => {
    const { keyPrefix, channel } = names();
    const redis = testRedis(keyPrefix);
    const store = new RedisDecisionStore(redis, { keyPrefix, channel });
    const network = decision('203.0.113.0/24', 'deceive', { group: true, scope: 'prefix', reason: 'group evidence: network 203.0.113.0/24' });
    await store.publish([network, decision('member', 'observe')]);
    const hash = await redis.hgetall(decisionRedisKey(keyPrefix, 'group:prefix:203.0.113.0/24'));
    expect(decisionFromHash('group:prefix:203.0.113.0/24', hash)).toEqual(network);
    expect(await redis.exists(decisionRedisKey(keyPrefix, '203.0.113.0/24'))).toBe(0);

    const reader = startReader(redis, { keyPrefix, channel });
    expect(await reader.start()).toBe(true);
    const inNetwork = { clientIp: '203.0.113.9', tenant: 'acme' };
    expect(reader.decisionFor('member', inNetwork).level).toBe('observe');
    expect(reader.decisionFor('bystander', inNetwork).level).toBe('allow');
    expect(reader.decisionFor('203.0.113.0/24').level).toBe('allow');
    expect(reader.counters().cached).toBe(1);

    // Announced after start: a tenant's group decision, then a key's decision that shows both were read.
    await store.publish([decision('acme', 'block', { group: true, scope: 'tenant' }), decision('later', 'throttle')]);
    await waitFor(() => reader.decisionFor('later').level === 'throttle', 'the later decision', 5_000, 5);
    expect(reader.decisionFor('bystander', inNetwork).level).toBe('allow');
    expect(reader.decisionFor('acme').level).toBe('allow');
    expect(reader.counters().cached).toBe(2);
  });

  it('follows pub/sub updates: escalation, step-down, a change of shadow flag', async () => {
    const { keyPrefix, channel } = names();
    const redis = testRedis(keyPrefix);
    const store = new RedisDecisionStore(redis, { keyPrefix, channel });
    const reader = startReader(redis, { keyPrefix, channel });
    await reader.start();
    expect(reader.decisionFor('k').level).toBe('allow');

    await store.publish([decision('k', 'throttle')]);
    await waitFor(() => reader.decisionFor('k').level === 'throttle', 'escalation to throttle', 5_000, 5);
    await store.publish([decision('k', 'deceive', { shadow: true }), decision('other', 'observe')]);
    await waitFor(() => reader.decisionFor('k').level === 'deceive', 'escalation to deceive', 5_000, 5);
    expect(reader.decisionFor('k')).toMatchObject({ shadow: true, enforce: 'allow' });
    expect(reader.decisionFor('other').level).toBe('observe');
    await store.publish([decision('k', 'allow')]);
    await waitFor(() => reader.decisionFor('k').level === 'allow', 'step-down to allow', 5_000, 5);
    expect(reader.counters().messages).toBe(4);
    expect(reader.counters().snapshots).toBe(1);
  });

  it('lets a decision lapse at its expiry, in the reader and in Redis', async () => {
    const { keyPrefix, channel } = names();
    const redis = testRedis(keyPrefix);
    const store = new RedisDecisionStore(redis, { keyPrefix, channel });
    const reader = startReader(redis, { keyPrefix, channel });
    await reader.start();
    const expiresAt = Date.now() + 400;
    await store.publish([decision('brief', 'block', { expires_at: expiresAt })]);
    await waitFor(() => reader.decisionFor('brief').level === 'block', 'the block to arrive', 5_000, 5);
    await waitFor(() => reader.decisionFor('brief').level === 'allow', 'the block to lapse', 5_000, 20);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    await waitFor(async () => (await redis.exists(decisionRedisKey(keyPrefix, 'brief'))) === 0, 'Redis to expire the hash', 5_000, 20);
  });

  it('misses no update while it starts: its view equals Redis after a concurrent writer stops', async () => {
    const { keyPrefix, channel } = names();
    const redis = testRedis(keyPrefix);
    const store = new RedisDecisionStore(redis, { keyPrefix, channel });
    const levels: Level[] = ['observe', 'throttle', 'truncate', 'deceive', 'block'];
    let stop = false;
    let writes = 0;
    const writer = (async () => {
      // Keys 0..29 change level continuously, before, during and after the reader's snapshot.
      while (!stop || writes < 100) {
        const k = writes % 30;
        await store.publish([decision(`key-${k}`, levels[(writes * 7 + k) % levels.length])]);
        writes++;
      }
    })();
    await waitFor(() => writes > 20, 'the writer to get going', 5_000, 1);
    const reader = startReader(redis, { keyPrefix, channel, scanCount: 5 });
    expect(await reader.start()).toBe(true);
    stop = true;
    await writer;
    const expected = new Map<string, string>();
    for (let k = 0; k < 30; k++) expected.set(`key-${k}`, (await redis.hget(decisionRedisKey(keyPrefix, `key-${k}`), 'level'))!);
    await waitFor(() => [...expected].every(([key, level]) => reader.decisionFor(key).level === level), 'the reader to match Redis', 5_000, 5);
  });

  it('resynchronises after its connection is killed, picking up a change whose notification it never got', async () => {
    const { keyPrefix, channel } = names();
    const redis = testRedis(keyPrefix);
    const connectionName = uniqueName('pw-reader').replace(/-/g, '_');
    const reader = startReader(redis, { keyPrefix, channel, connectionName });
    await reader.start();
    // Written with its notification sent elsewhere: only a fresh snapshot can reveal it.
    await new RedisDecisionStore(redis, { keyPrefix, channel: `${channel}:nobody` }).publish([decision('silent', 'truncate')]);
    expect(reader.decisionFor('silent').level).toBe('allow');

    const clients = await redis.client('LIST');
    const line = String(clients).split('\n').find((l) => l.includes(`name=${connectionName} `));
    expect(line).toBeDefined();
    const id = /(?:^|\s)id=(\d+)/.exec(line!)![1];
    await redis.client('KILL', 'ID', id);
    await waitFor(() => reader.counters().snapshots === 2, 'a second snapshot after the reconnect', 10_000, 10);
    expect(reader.decisionFor('silent').level).toBe('truncate');
    expect(reader.fresh).toBe(true);
    // Still subscribed after the reconnect.
    await new RedisDecisionStore(redis, { keyPrefix, channel }).publish([decision('later', 'observe')]);
    await waitFor(() => reader.decisionFor('later').level === 'observe', 'a notification after the reconnect', 5_000, 5);
  });

  it('fails open against an unreachable Redis: allow, counted, also on the Prometheus registry', async () => {
    const { keyPrefix, channel } = names();
    const port = await freePort();
    const registry = new Registry();
    const unreachable = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 100 });
    unreachable.on('error', () => {});
    onCleanup(() => unreachable.disconnect());
    const reader = startReader(unreachable, { keyPrefix, channel, onUnavailable: 'open', unavailableAfterMs: 300, registry });
    expect(await reader.start()).toBe(false);
    expect(reader.available).toBe(false);
    for (let i = 0; i < 5; i++) expect(reader.decisionFor(`k${i}`)).toMatchObject({ level: 'allow', enforce: 'allow', source: 'fail-open' });
    expect(reader.counters()).toMatchObject({ failedOpen: 5, failedClosed: 0, answers: 5 });
    expect(await registry.metrics()).toMatch(/^probewatch_gateway_decisions_failed_open_total 5$/m);
    expect(await registry.metrics()).toMatch(/^probewatch_gateway_decision_store_available 0$/m);
  });

  it('bridges an outage with its cache for the grace, then fails closed; recovers when Redis is back', async () => {
    const { keyPrefix, channel } = names();
    const { own, redis } = await ownRedisClient();
    const store = new RedisDecisionStore(redis, { keyPrefix, channel });
    await store.publish([decision('attacker', 'block'), decision('watched', 'observe'), decision('shadowed', 'deceive', { shadow: true })]);
    const reader = startReader(redis, { keyPrefix, channel, onUnavailable: 'closed', closedLevel: 'throttle', unavailableAfterMs: 500 });
    expect(await reader.start()).toBe(true);

    await own.stop();
    await waitFor(() => !reader.fresh, 'the reader to notice the outage', 5_000, 5);
    // Within the grace: the cache answers, counted as stale, nothing failed.
    if (reader.available) {
      expect(reader.decisionFor('watched').level).toBe('observe');
      expect(reader.counters().failedClosed).toBe(0);
    }
    await waitFor(() => !reader.available, 'the grace to run out', 5_000, 10);
    expect(reader.decisionFor('attacker')).toMatchObject({ level: 'block', source: 'decision' }); // stricter than the closed level
    expect(reader.decisionFor('watched')).toMatchObject({ level: 'throttle', enforce: 'throttle', source: 'fail-closed' });
    expect(reader.decisionFor('shadowed')).toMatchObject({ level: 'throttle', source: 'fail-closed' }); // a shadow decision is never enforced
    expect(reader.decisionFor('stranger')).toMatchObject({ level: 'throttle', source: 'fail-closed' });
    expect(reader.counters().failedClosed).toBe(4);

    await own.start(); // empty again: nothing was saved
    await waitFor(() => reader.fresh, 'the reader to resynchronise', 10_000, 10);
    expect(reader.decisionFor('stranger')).toMatchObject({ level: 'allow', source: 'default' });
    expect(reader.decisionFor('attacker').level).toBe('allow'); // the snapshot replaced the cache
    await store.publish([decision('stranger', 'truncate')]);
    await waitFor(() => reader.decisionFor('stranger').level === 'truncate', 'a decision after the outage', 5_000, 5);
    expect(reader.counters().failedClosed).toBe(4);
  });

  it('fails open through an outage: decisions in force still hold, unknown keys are allowed and counted', async () => {
    const { keyPrefix, channel } = names();
    const { own, redis } = await ownRedisClient();
    await new RedisDecisionStore(redis, { keyPrefix, channel }).publish([decision('attacker', 'deceive')]);
    const reader = startReader(redis, { keyPrefix, channel, onUnavailable: 'open', unavailableAfterMs: 300 });
    await reader.start();
    await own.stop();
    await waitFor(() => !reader.available, 'the grace to run out', 5_000, 10);
    expect(reader.decisionFor('attacker')).toMatchObject({ level: 'deceive', source: 'decision' });
    expect(reader.decisionFor('someone')).toMatchObject({ level: 'allow', source: 'fail-open' });
    expect(reader.counters().failedOpen).toBe(2);
  });

  it('notices a Redis that stops answering (no closed connection) through its heartbeat', async () => {
    const { keyPrefix, channel } = names();
    const { own, redis } = await ownRedisClient({ maxRetriesPerRequest: 1 });
    const reader = startReader(redis, { keyPrefix, channel, onUnavailable: 'closed', unavailableAfterMs: 300 });
    await reader.start();
    const admin = new Redis({ port: own.port });
    onCleanup(() => admin.disconnect());
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    await waitFor(() => !reader.available, 'the heartbeat to time out', 5_000, 10);
    expect(reader.decisionFor('k').source).toBe('fail-closed');
    await waitFor(() => reader.fresh, 'the reader to recover after the pause', 10_000, 10);
    expect(reader.decisionFor('k').source).toBe('default');
  });
});

// Keeps the shared Redis clean even if a test above failed before its own cleanup.
onCleanup(async () => {
  const redis = new Redis(REDIS_URL);
  await deletePrefix(redis, 'pwtest:gw-');
  await redis.quit();
});
