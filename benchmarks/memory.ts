/**
 * `npm run bench:memory`: peak resident memory of probewatch under many
 * keys, client addresses, networks and tenants, against the 2 GB budget.
 *
 * - replay: `probewatch replay -` as a child process, fed on stdin with
 *   events generated on the fly (default 1,000,000 keys, 1–3 events each,
 *   nearly every event from a new client IP, 20,000 tenants, 3 models).
 * - run soak: `probewatch run` as a child process on the mock broker and the
 *   real Redis, fed a bounded stream (default 30,000 keys, 1–3 events each,
 *   a new client IP per event), produced no faster than it is consumed.
 *
 * Peak RSS is the child's VmHWM (/proc), read while it runs. Prints a table
 * and writes its section of benchmarks/RESULTS.md.
 *
 * Options: --keys N (replay), --soak-keys N (0 skips the soak), --no-write.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Partitioners } from 'kafkajs';
import { AvroEventCodec } from '../src/codec/AvroEventCodec.ts';
import { parseConfig } from '../src/config/loadConfig.ts';
import { benchKafka, committedCount, deleteRedisKeys, ROOT, runNames, spawnRun, startBroker, writeRunConfig } from './utils/broker.ts';
import { generateManyKeys as generate, MANY_KEYS_T0 as T0 } from './utils/manyKeys.ts';
import { writeResultsSection } from './utils/results.ts';
import { markdownTable, printTable } from './utils/table.ts';

const BUDGET_BYTES = 2 * 2 ** 30;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Polls a child's peak RSS (VmHWM) until it exits; resolves with the peak in bytes. */
function watchPeakRss(child: ChildProcess): { peak: () => number; done: Promise<void> } {
  let peak = 0;
  const read = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      // The process has exited.
    }
  };
  const timer = setInterval(read, 200);
  const done = new Promise<void>((resolve) =>
    child.once('exit', () => {
      clearInterval(timer);
      resolve();
    }),
  );
  return { peak: () => (read(), peak), done };
}

interface Row {
  scenario: string;
  keys: number;
  events: number;
  seconds: number;
  peakRss: number;
  note: string;
}

async function replayScenario(keys: number): Promise<Row> {
  const child = spawn(join(ROOT, 'bin/probewatch'), ['replay', '-'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const rss = watchPeakRss(child);
  let outLines = 0;
  child.stdout!.on('data', (b: Buffer) => {
    for (let i = 0; i < b.length; i++) if (b[i] === 10) outLines++;
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-4_000)));
  const started = performance.now();
  let events = 0;
  let chunk = '';
  const stdin = child.stdin!;
  for (const e of generate(keys, 1)) {
    events++;
    chunk += `${JSON.stringify({ ...e, input_hash: e.input_hash.toString('hex') })}\n`;
    if (chunk.length > 1 << 20) {
      if (!stdin.write(chunk)) await new Promise((r) => stdin.once('drain', r));
      chunk = '';
    }
    if (events % 500_000 === 0) process.stderr.write(`replay: ${events} events written, peak RSS ${(rss.peak() / 2 ** 20).toFixed(0)} MiB\n`);
  }
  stdin.end(chunk);
  await rss.done;
  const seconds = (performance.now() - started) / 1000;
  if (child.exitCode !== 0) throw new Error(`replay exited with ${child.exitCode ?? child.signalCode}: ${err}`);
  return { scenario: 'replay (stdin)', keys, events, seconds, peakRss: rss.peak(), note: `${outLines} RiskScore lines; ${err.trim().split('\n').at(-1)}` };
}

async function soakScenario(keys: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-memory-'));
  const broker = startBroker(dir);
  const id = `bench-memory-${Date.now().toString(36)}`;
  const names = runNames(id);
  const { topics, groupId } = names;
  const run = spawnRun(writeRunConfig(dir, id, broker.brokers, names));
  const { child } = run;
  const rss = watchPeakRss(child);
  const kafka = benchKafka(broker.brokers, `${id}-producer`);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
  const admin = kafka.admin();
  await producer.connect();
  await admin.connect();
  const codec = new AvroEventCodec();
  const committed = () => committedCount(admin, groupId, topics.events);
  const started = performance.now();
  let events = 0;
  let batch: { key: string; value: Buffer }[] = [];
  const send = async () => {
    await producer.send({ topic: topics.events, acks: -1, messages: batch });
    events += batch.length;
    batch = [];
    // The mock broker keeps ~5 MB per partition: stay within a few thousand messages of the consumer.
    const deadline = Date.now() + 300_000;
    while (events - (await committed()) > 6_000) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`probewatch run stopped consuming: ${run.stderrTail()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  try {
    for (const e of generate(keys, 2, `${id}-k`)) {
      batch.push({ key: e.api_key, value: codec.encode({ ...e, ts: Date.now() - 3_600_000 + Math.floor((e.ts - T0) / 100) }) });
      if (batch.length === 2_000) await send();
    }
    if (batch.length) await send();
    const deadline = Date.now() + 300_000;
    while ((await committed()) < events) {
      if (Date.now() > deadline) throw new Error(`probewatch run did not commit everything: ${run.stderrTail()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const seconds = (performance.now() - started) / 1000;
    const peak = rss.peak();
    child.kill('SIGTERM');
    await rss.done;
    return { scenario: 'run soak (broker + Redis)', keys, events, seconds, peakRss: peak, note: `every event committed; exit ${child.exitCode ?? child.signalCode}` };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await producer.disconnect();
    await admin.disconnect();
    await deleteRedisKeys(names.keyPrefix);
    broker.stop();
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const keys = arg('--keys', 1_000_000);
  const soakKeys = arg('--soak-keys', 30_000);
  const rows: Row[] = [await replayScenario(keys)];
  if (soakKeys > 0) rows.push(await soakScenario(soakKeys));
  const state = parseConfig({}).state;
  const headers = ['scenario', 'keys', 'events', 'seconds', 'peak RSS', 'budget', 'within', 'note'];
  const table = rows.map((r) => [
    r.scenario,
    r.keys.toLocaleString('en-US'),
    r.events.toLocaleString('en-US'),
    r.seconds.toFixed(0),
    `${(r.peakRss / 2 ** 20).toFixed(0)} MiB`,
    `${BUDGET_BYTES / 2 ** 20} MiB`,
    r.peakRss < BUDGET_BYTES ? 'yes' : 'NO',
    r.note,
  ]);
  printTable('Peak RSS (VmHWM of the probewatch child process)', headers, table);
  if (process.argv.includes('--no-write')) return;
  const caps = Object.entries(state.maxEntities).map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(', ');
  writeResultsSection({
    name: 'memory',
    title: 'Peak memory under many keys and addresses',
    command: `npm run bench:memory${keys !== 1_000_000 ? ` -- --keys ${keys}` : ''}`,
    setup: `default config: state.maxKeys ${state.maxKeys.toLocaleString('en-US')}, state.maxEntities ${caps}`,
    body: [
      'Events generated on the fly: 1–3 per key, each from a new client IP (random IPv4, so per-IP and per-prefix aggregates grow with every event unless capped), 20,000 tenants, 3 models, 16-wide sketches, 10 classes. The replay child reads them on stdin; the `run` child consumes them from the mock broker, snapshots to the real Redis, and is fed no faster than it commits. Peak RSS is the child\'s VmHWM.',
      '',
      markdownTable(headers, table),
    ].join('\n'),
  });
}

await main();
