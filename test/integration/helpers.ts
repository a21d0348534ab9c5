/**
 * Shared fixtures for integration tests: the real Kafka-protocol broker (the
 * kcat mock cluster) and the real Redis, unique names, cleanup, waiting on
 * conditions, and `./bin/probewatch run` as a child process.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Kafka, type KafkaMessage, Partitioners, logLevel } from 'kafkajs';
import { afterAll } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { AvroEventCodec } from '../../src/codec/AvroEventCodec.ts';
import type { InferenceEvent } from '../../src/contract.ts';
import { buildEvent } from '../../src/gateway/buildEvent.ts';
import { SimulatedTraffic } from '../../src/sim/SimulatedTraffic.ts';
import { RedisSnapshotStore } from '../../src/state/RedisSnapshotStore.ts';
import { globEscape } from '../../src/state/redisGlob.ts';
import type { KeyState } from '../../src/state/KeyStateStore.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const REDIS_URL = process.env.PROBEWATCH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

// ---------------------------------------------------------------- cleanup

const cleanups: (() => unknown)[] = [];

/** Runs `fn` after the test file, last registered first. */
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

afterAll(async () => {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      console.warn('cleanup failed:', err);
    }
  }
});

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

// ---------------------------------------------------------------- waiting

type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

/** Polls `condition` until it returns a truthy value (returned) or `timeoutMs` passes (throws, naming `what`; a function is called then, e.g. to show fresh logs). */
export async function waitFor<T>(condition: () => T | Promise<T>, what: string | (() => string), timeoutMs = 60_000, intervalMs = 100): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as Truthy<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// ---------------------------------------------------------------- broker

let brokerList: Promise<string[]> | undefined;

/**
 * The broker bootstrap list: PROBEWATCH_TEST_BROKERS (set by .ci/run), or,
 * outside CI, a mock cluster started for this test file. Under CI a missing
 * variable is an error, so a misconfigured CI fails instead of skipping.
 */
export function testBrokers(): Promise<string[]> {
  brokerList ??= (async () => {
    const fromEnv = process.env.PROBEWATCH_TEST_BROKERS?.trim();
    if (fromEnv) return fromEnv.split(',');
    if (process.env.CI) throw new Error('PROBEWATCH_TEST_BROKERS is not set: .ci/run must start the Kafka mock cluster before the tests');
    const pidDir = mkdtempSync(join(tmpdir(), 'pw-broker-'));
    const pidFile = join(pidDir, 'kcat.pid');
    const bootstrap = execFileSync('bash', [join(REPO_ROOT, '.ci/start-broker.sh'), pidFile], { encoding: 'utf8' }).trim();
    onCleanup(() => {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGTERM');
      } finally {
        rmSync(pidDir, { recursive: true, force: true });
      }
    });
    return bootstrap.split(',');
  })();
  return brokerList;
}

export async function testKafka(): Promise<Kafka> {
  return new Kafka({ clientId: uniqueName('pw-test'), brokers: await testBrokers(), logLevel: logLevel.NOTHING });
}

/** A connected producer (acks -1), disconnected after the file. */
export async function testProducer(kafka: Kafka) {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
  await producer.connect();
  onCleanup(() => producer.disconnect());
  return producer;
}

/** Creates a topic the way the mock cluster allows (a metadata request auto-creates it with 4 partitions). */
export async function ensureTopic(kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitFor(async () => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions.length, `topic ${topic}`, 15_000);
  } finally {
    await admin.disconnect();
  }
}

/** Committed offset of `groupId` per partition of `topic` (-1: nothing committed). */
export async function committedOffsets(kafka: Kafka, groupId: string, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map(t.partitions.map((p) => [p.partition, BigInt(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/** High watermark per partition of `topic`. */
export async function highWatermarks(kafka: Kafka, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
  } finally {
    await admin.disconnect();
  }
}

export interface CollectedMessage {
  partition: number;
  message: KafkaMessage;
}

/** Reads a topic from the beginning in the background (own group, no commits); `messages` grows as they arrive. */
export class TopicCollector {
  readonly messages: CollectedMessage[] = [];

  private constructor(private readonly consumer: ReturnType<Kafka['consumer']>) {}

  static async start(kafka: Kafka, topic: string, groupId = uniqueName('pw-collector')): Promise<TopicCollector> {
    await ensureTopic(kafka, topic);
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
    const collector = new TopicCollector(consumer);
    await consumer.connect();
    onCleanup(() => consumer.disconnect());
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) collector.messages.push({ partition: batch.partition, message });
      },
    });
    return collector;
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}

// ---------------------------------------------------------------- redis

/** A Redis client, closed after the file, with every key under `prefix` deleted then. */
export function testRedis(prefix?: string): Redis {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  onCleanup(async () => {
    if (prefix) await deletePrefix(redis, prefix);
    await redis.quit();
  });
  return redis;
}

export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 500);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** The saved key states, as `probewatch run` left them. */
export function loadSnapshots(redis: Redis, keyPrefix: string, keys: readonly string[]): Promise<Map<string, KeyState>> {
  return new RedisSnapshotStore(redis, { keyPrefix, ttlMs: 0 }).load(keys);
}

// ---------------------------------------------------------------- events

export const eventCodec = new AvroEventCodec();

/** A gateway event for `apiKey` at `ts`, built by the SDK's builder. */
export function testEvent(apiKey: string, ts: number, i: number, clientIp = '203.0.113.7'): InferenceEvent {
  const p = ((i % 7) + 1) / 8;
  return buildEvent({ apiKey, modelId: 'm1', input: `${apiKey}/${i}`, probs: [p, 1 - p], clientIp, ts, tenant: 'acme' });
}

/** `n` events of one key, `stepMs` apart from `startTs`, as Kafka messages keyed by api_key. */
export function keyStream(apiKey: string, n: number, startTs: number, stepMs: number) {
  const events = Array.from({ length: n }, (_, i) => testEvent(apiKey, startTs + i * stepMs, i));
  return { events, messages: events.map((e) => ({ key: e.api_key, value: eventCodec.encode(e) })) };
}

/** The first `n` events of the simulator's grid-sweep attacker, as key `apiKey` with event ids unique to `id`, from `start` on. */
export function gridAttacker(id: string, apiKey: string, start: number, n: number): InferenceEvent[] {
  return new SimulatedTraffic(start, 5)
    .until(start + 60 * 60_000)
    .filter((e) => e.api_key === 'attacker-grid')
    .slice(0, n)
    .map((e) => ({ ...e, api_key: apiKey, event_id: `${id}-${e.event_id}` }));
}

// ---------------------------------------------------------------- probewatch run

export interface RunSetup {
  id: string;
  brokers: string[];
  topics: { events: string; risk: string; decisions: string; dlq: string };
  groupId: string;
  keyPrefix: string;
  channel: string;
}

/** Unique topics, group and Redis prefix for one test. */
export async function runSetup(label: string): Promise<RunSetup> {
  const id = uniqueName(label);
  return {
    id,
    brokers: await testBrokers(),
    topics: { events: `${id}.events`, risk: `${id}.risk`, decisions: `${id}.decisions`, dlq: `${id}.dlq` },
    groupId: `${id}.group`,
    keyPrefix: `pwtest:${id}:`,
    channel: `pwtest:${id}:decisions`,
  };
}

/** A `probewatch run` config document for a setup; `extra` is merged per top-level section. */
export function runConfig(setup: RunSetup, extra: Record<string, Record<string, unknown>> = {}): Record<string, unknown> {
  const base: Record<string, Record<string, unknown>> = {
    kafka: { brokers: setup.brokers, clientId: setup.id, groupId: setup.groupId, topics: setup.topics, sessionTimeoutMs: 6_000 },
    redis: { url: REDIS_URL, keyPrefix: setup.keyPrefix, decisionChannel: setup.channel },
    http: { host: '127.0.0.1', port: 0 },
  };
  for (const [section, values] of Object.entries(extra)) base[section] = { ...base[section], ...values };
  return { ...base, logLevel: 'info' };
}

/** A running `./bin/probewatch run` child with its JSON log lines. */
export class ProbewatchProcess {
  readonly logs: Record<string, unknown>[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private text = '';

  constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.onData(chunk));
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.onData(chunk));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The /metrics and /healthz port, from the "http server listening" log line. */
  port(timeoutMs = 60_000): Promise<number> {
    return waitFor(() => this.findLog('http server listening')?.port as number | undefined, () => `probewatch http port\n${this.tail()}`, timeoutMs);
  }

  findLog(msg: string): Record<string, unknown> | undefined {
    return this.logs.find((l) => l.msg === msg);
  }

  /** Waits until the consumer joined its group. */
  joined(timeoutMs = 90_000): Promise<Record<string, unknown>> {
    return waitFor(() => this.findLog('joined consumer group'), () => `probewatch to join its group\n${this.tail()}`, timeoutMs);
  }

  async get(path: string): Promise<{ status: number; text: string }> {
    // Bounded: a process that never answers fails the caller's wait with its message instead of hanging the test.
    const res = await fetch(`http://127.0.0.1:${await this.port()}${path}`, { signal: AbortSignal.timeout(30_000) });
    return { status: res.status, text: await res.text() };
  }

  /** Sum of a Prometheus metric's samples (all label sets). */
  async metric(name: string): Promise<number> {
    const { text } = await this.get('/metrics');
    let sum = 0;
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? ([^ ]+)$/.exec(line);
      if (m && m[1] === name) sum += Number(m[3]);
    }
    return sum;
  }

  /** Sends `signal` and resolves with how the process ended. */
  async stop(signal: NodeJS.Signals = 'SIGTERM') {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }

  /** The last log lines, for failure messages. */
  tail(n = 30): string {
    return this.text.split('\n').slice(-n).join('\n');
  }

  private onData(chunk: string): void {
    this.text += chunk;
    if (this.text.length > 1 << 20) this.text = this.text.slice(-(1 << 19));
    for (const line of chunk.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        this.logs.push(JSON.parse(line));
      } catch {
        // A line split across chunks; the structured lines the tests wait for are short.
      }
    }
  }
}

/** Starts `./bin/probewatch run -c <generated YAML>`; it is SIGKILLed after the file if still running. */
export function spawnProbewatch(config: Record<string, unknown>, env: Record<string, string> = {}): ProbewatchProcess {
  const dir = mkdtempSync(join(tmpdir(), 'pw-run-'));
  const file = join(dir, 'probewatch.yaml');
  writeFileSync(file, toYaml(config));
  // Overrides from the developer's shell must not leak into the child's config.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PROBEWATCH_')));
  const child = spawn(join(REPO_ROOT, 'bin/probewatch'), ['run', '-c', file], {
    cwd: REPO_ROOT,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new ProbewatchProcess(child);
  onCleanup(async () => {
    if (proc.running) await proc.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return proc;
}
