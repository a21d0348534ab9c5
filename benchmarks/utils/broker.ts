import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { stringify as toYaml } from 'yaml';
import { globEscape } from '../../src/state/redisGlob.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const REDIS_URL = process.env.PROBEWATCH_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A Kafka-protocol broker for a benchmark: PROBEWATCH_TEST_BROKERS when set, else the librdkafka mock cluster started here. */
export interface BenchBroker {
  brokers: string[];
  /** Stops the broker if this process started it. */
  stop(): void;
}

export function startBroker(dir: string): BenchBroker {
  const given = process.env.PROBEWATCH_TEST_BROKERS?.trim();
  if (given) return { brokers: given.split(','), stop: () => undefined };
  const pidFile = join(dir, 'kcat.pid');
  const brokers = execFileSync('bash', [join(ROOT, '.ci/start-broker.sh'), pidFile], { encoding: 'utf8' }).trim();
  const pid = Number(readFileSync(pidFile, 'utf8'));
  return { brokers: brokers.split(','), stop: () => process.kill(pid, 'SIGTERM') };
}

/**
 * A quiet KafkaJS client. Its connection timeout is 10 s (KafkaJS: 1 s): on a
 * loaded machine a slow connect can leave KafkaJS's runner without a broker
 * and spinning without a pause (tulios/kafkajs#1384), which stalls the
 * benchmark's own event loop.
 */
export function benchKafka(brokers: string[], clientId: string): Kafka {
  return new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING, connectionTimeout: 10_000 });
}

/** Deletes every Redis key under `prefix` (a benchmark's own namespace). */
export async function deleteRedisKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url);
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 1_000);
    if (found.length) await redis.del(...found);
    cursor = next;
  } while (cursor !== '0');
  await redis.quit();
}

/** Names of one `probewatch run` instance's topics, group and Redis namespace, all derived from `id`. */
export interface RunNames {
  topics: { events: string; risk: string; decisions: string; dlq: string };
  groupId: string;
  keyPrefix: string;
}

export function runNames(id: string, eventsTopic = `${id}.events`): RunNames {
  return { topics: { events: eventsTopic, risk: `${id}.risk`, decisions: `${id}.decisions`, dlq: `${id}.dlq` }, groupId: `${id}.group`, keyPrefix: `pwbench:${id}:` };
}

/** Writes a config file for `probewatch run` on the benchmark's broker and Redis (default detectors, HTTP on a free port). */
export function writeRunConfig(dir: string, id: string, brokers: string[], names: RunNames, level = 'warn'): string {
  const file = join(dir, `${id}.yaml`);
  writeFileSync(
    file,
    toYaml({
      kafka: { brokers, clientId: id, groupId: names.groupId, topics: names.topics, sessionTimeoutMs: 10_000 },
      redis: { url: REDIS_URL, keyPrefix: names.keyPrefix, decisionChannel: `${names.keyPrefix}decisions` },
      http: { host: '127.0.0.1', port: 0 },
      state: { snapshotTtlMs: 30 * 60_000 },
      logLevel: level,
    }),
  );
  return file;
}

/** A `probewatch run` child process; its stderr's last few kB kept for error messages, each line offered to `onLine`. */
export interface RunChild {
  child: ChildProcess;
  stderrTail(): string;
  exited: Promise<void>;
}

export function spawnRun(configFile: string, onLine?: (line: string) => void): RunChild {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PROBEWATCH_')));
  const child = spawn(join(ROOT, 'bin/probewatch'), ['run', '-c', configFile], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  createInterface({ input: child.stderr! }).on('line', (line) => {
    tail = `${tail}${line}\n`.slice(-4_000);
    onLine?.(line);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, stderrTail: () => tail, exited };
}

/** Sum over partitions of the group's committed offsets on `topic`. */
export async function committedCount(admin: ReturnType<Kafka['admin']>, groupId: string, topic: string): Promise<number> {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return (t?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
}

/** A `probewatch run` instance: `joined` settles (with performance.now()) when it logs its group join; `stop` ends it and deletes its Redis keys. */
export interface BenchRun extends RunChild {
  names: RunNames;
  joined: Promise<number>;
  stop(): Promise<void>;
}

export function startRun(dir: string, id: string, brokers: string[], names: RunNames): BenchRun {
  let joined!: (at: number) => void;
  const joinedAt = new Promise<number>((r) => (joined = r));
  const run = spawnRun(writeRunConfig(dir, id, brokers, names, 'info'), (line) => {
    if (line.includes('"joined consumer group"')) joined(performance.now());
  });
  return {
    ...run,
    names,
    joined: Promise.race([joinedAt, run.exited.then(() => Promise.reject(new Error(`probewatch run exited before joining: ${run.stderrTail()}`)))]),
    stop: async () => {
      if (run.child.exitCode === null) run.child.kill('SIGTERM');
      await run.exited;
      await deleteRedisKeys(names.keyPrefix);
    },
  };
}
