/**
 * `probewatch decisions` against the real broker and Redis: manual decisions
 * reach a gateway's Redis reader and its Kafka feed as the pipeline's do,
 * and a running `probewatch run` neither overrides a manual block nor
 * escalates a key an analyst allowed.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import type { Decision } from '../../src/contract.ts';
import { DecisionReader } from '../../src/gateway/DecisionReader.ts';
import { KafkaDecisionFeed } from '../../src/gateway/KafkaDecisionFeed.ts';
import { decisionFromHash, decisionRedisKey } from '../../src/sinks/RedisDecisionStore.ts';
import {
  REPO_ROOT,
  ensureTopic,
  eventCodec,
  loadSnapshots,
  onCleanup,
  runConfig,
  runSetup,
  spawnProbewatch,
  testEvent,
  testKafka,
  testProducer,
  testRedis,
  waitFor,
} from './helpers.ts';

const exec = promisify(execFile);

function writeConfig(doc: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'pw-decisions-')), 'probewatch.yaml');
  writeFileSync(file, toYaml(doc));
  return file;
}

/** `./bin/probewatch decisions …` with the config; resolves with the exit code and output, never rejects. */
async function cli(configFile: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PROBEWATCH_')));
  try {
    const { stdout, stderr } = await exec(join(REPO_ROOT, 'bin/probewatch'), ['decisions', ...args, '-c', configFile], { cwd: REPO_ROOT, env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function gatewayViews(setup: Awaited<ReturnType<typeof runSetup>>) {
  const redis = testRedis(setup.keyPrefix);
  const reader = new DecisionReader(redis, { keyPrefix: setup.keyPrefix, channel: setup.channel, heartbeatMs: 200 });
  onCleanup(() => reader.close());
  expect(await reader.start()).toBe(true);
  const kafka = await testKafka();
  await ensureTopic(kafka, setup.topics.decisions);
  const feed = new KafkaDecisionFeed(kafka, { topic: setup.topics.decisions, startTimeoutMs: 30_000 });
  onCleanup(() => feed.close());
  await feed.start();
  return { redis, reader, feed, kafka };
}

describe('probewatch decisions', () => {
  it('adds, lists and deletes manual decisions on a key, a prefix and a tenant, delivered through Redis and the decisions topic', async () => {
    const setup = await runSetup('decisions');
    const config = writeConfig(runConfig(setup));
    const { reader, feed } = await gatewayViews(setup);

    expect((await cli(config, 'add', '--key', 'stolen', '--level', 'block', '--ttl', '1h', '--reason', 'SOC-1 leaked key')).code).toBe(0);
    expect((await cli(config, 'add', '--prefix', '192.0.2.77/24', '--level', 'throttle', '--ttl', '30m', '--reason', 'SOC-2 scraper net')).code).toBe(0);
    expect((await cli(config, 'add', '--tenant', 'partner', '--level', 'allow', '--ttl', '2h', '--reason', 'SOC-3 load test')).code).toBe(0);

    for (const source of [reader, feed]) {
      await waitFor(() => source.decisionFor('stolen').enforce === 'block', 'the manual block to reach the gateway', 30_000);
      expect(source.decisionFor('stolen')).toMatchObject({ source: 'manual', reason: 'SOC-1 leaked key' });
      await waitFor(() => source.decisionFor('someone', { clientIp: '192.0.2.200' }).enforce === 'throttle', 'the prefix throttle', 30_000);
      expect(source.decisionFor('someone', { clientIp: '198.51.100.1' }).enforce).toBe('allow');
      await waitFor(() => source.decisionFor('p1', { tenant: 'partner' }).source === 'manual', 'the tenant allow', 30_000);
    }
    // A reader starting now loads them with its snapshot.
    const late = new DecisionReader(testRedis(), { keyPrefix: setup.keyPrefix, channel: setup.channel });
    onCleanup(() => late.close());
    await late.start();
    expect(late.decisionFor('x', { clientIp: '192.0.2.1' }).enforce).toBe('throttle');

    const listed = JSON.parse((await cli(config, 'list', '--json')).stdout) as Decision[];
    expect(listed.map((d) => `${d.level} ${d.scope ?? 'key'} ${d.api_key} ${d.manual}`).sort()).toEqual([
      'allow tenant partner true',
      'block key stolen true',
      'throttle prefix 192.0.2.0/24 true',
    ]);
    const text = (await cli(config, 'list')).stdout;
    expect(text).toMatch(/manual decisions: 3/);
    expect(text).toMatch(/^block\s+key stolen\s+manual\s+59m\s+SOC-1 leaked key$/m);

    expect((await cli(config, 'delete', '--key', 'stolen', '--reason', 'key rotated')).code).toBe(0);
    for (const source of [reader, feed]) await waitFor(() => source.decisionFor('stolen').source === 'default', 'the removal to reach the gateway', 30_000);
    const again = await cli(config, 'delete', '--key', 'stolen');
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/no manual decision in force for key stolen/);

    const bad = await cli(config, 'add', '--key', 'k', '--tenant', 't', '--level', 'block', '--ttl', '1h', '--reason', 'r');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/exactly one of --key, --prefix or --tenant \(got --key, --tenant\)/);
    const badTtl = await cli(config, 'add', '--key', 'k', '--level', 'block', '--ttl', 'soon', '--reason', 'r');
    expect(badTtl.stderr).toMatch(/--ttl: expected a duration/);
  });

  it('is never overridden by the ladder of a running probewatch, and a manual allow holds a key at allow', async () => {
    const setup = await runSetup('decisions-run');
    const doc = runConfig(setup);
    const config = writeConfig(doc);
    const { redis, reader, kafka } = await gatewayViews(setup);
    // Before run starts: its first read of the manual decisions sees the allow.
    expect((await cli(config, 'add', '--prefix', '198.51.100.0/24', '--level', 'allow', '--ttl', '1h', '--reason', 'SOC-4 partner lab')).code).toBe(0);
    expect((await cli(config, 'add', '--key', 'blocked-attacker', '--level', 'block', '--ttl', '1h', '--reason', 'SOC-5')).code).toBe(0);

    const run = spawnProbewatch(doc);
    await run.joined();
    const producer = await testProducer(kafka);
    const start = Date.now() - 60_000;
    // The same fast traffic from two keys; volume alone takes such a key to throttle (see the replay test).
    const events = [
      ...Array.from({ length: 150 }, (_, i) => testEvent('blocked-attacker', start + i * 300, i, '203.0.113.7')),
      ...Array.from({ length: 150 }, (_, i) => testEvent('allowed-attacker', start + i * 300, i, '198.51.100.9')),
    ];
    await producer.send({ topic: setup.topics.events, messages: events.map((e) => ({ key: e.api_key, value: eventCodec.encode(e) })) });

    const ladder = await waitFor(async () => {
      const d = decisionFromHash('blocked-attacker', await redis.hgetall(decisionRedisKey(setup.keyPrefix, 'blocked-attacker')));
      return d?.level === 'throttle' ? d : undefined;
    }, () => `the ladder's throttle for blocked-attacker\n${run.tail()}`);
    expect(ladder.manual).toBeUndefined();
    // The ladder's decision is in the store, yet the gateway enforces the analyst's.
    expect(reader.decisionFor('blocked-attacker')).toMatchObject({ enforce: 'block', source: 'manual' });

    const snapshots = await waitFor(async () => {
      const s = await loadSnapshots(redis, setup.keyPrefix, ['allowed-attacker', 'blocked-attacker']);
      return s.get('allowed-attacker')?.eventsSeen === 150 && s.get('blocked-attacker')?.eventsSeen === 150 ? s : undefined;
    }, 'both keys processed');
    const allowed = snapshots.get('allowed-attacker')!;
    const blocked = snapshots.get('blocked-attacker')!;
    expect(allowed.risk).toBeCloseTo(blocked.risk, 6);
    expect(allowed.ladder.level).toBe('allow');
    expect(await redis.exists(decisionRedisKey(setup.keyPrefix, 'allowed-attacker'))).toBe(0);

    // Lifting the block hands the key back to the ladder's decision.
    expect((await cli(config, 'delete', '--key', 'blocked-attacker')).code).toBe(0);
    await waitFor(() => reader.decisionFor('blocked-attacker').source === 'decision', 'the fallback to the ladder');
    expect(reader.decisionFor('blocked-attacker').enforce).toBe('throttle');
    await run.stop();
  });
});
