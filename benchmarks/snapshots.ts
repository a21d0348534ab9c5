/**
 * `npm run bench:snapshots` (issue 12): what snapshotting costs `run`, per
 * event. The same recorded traffic goes through the BatchProcessor (decode,
 * every default detector, outputs to in-memory sinks, snapshots to the real
 * Redis at 127.0.0.1:6379) three ways, measured in one run:
 *
 * - baseline: the JSON layout of the first snapshot store (one
 *   JSON.stringify'd KeyState per key, SET), after every batch: what `run`
 *   did before;
 * - binary sections after every batch (`state.snapshotEveryMs: 0`);
 * - binary sections per interval (the default, 1 s).
 *
 * Offered load: 2,000 events/s, fetched 20 at a time (a batch every 10 ms
 * of simulated wall clock), as a lightly loaded consumer sees it. Prints a
 * table and writes its section of benchmarks/RESULTS.md.
 *
 * Traffic: the synthetic deployment of the detector tests
 * (test/detectors/helpers/world.ts), 200 keys with human pauses, a quarter
 * of them running line searches or spreading queries over the input box.
 */
import { Redis } from 'ioredis';
import { AvroEventCodec } from '../src/codec/AvroEventCodec.ts';
import { createCompute } from '../src/compute/createCompute.ts';
import { configSchema } from '../src/config/configSchema.ts';
import type { InferenceEvent } from '../src/contract.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { BatchProcessor } from '../src/pipeline/BatchProcessor.ts';
import { DetectionPipeline } from '../src/pipeline/DetectionPipeline.ts';
import { InMemorySink } from '../src/sinks/InMemorySink.ts';
import type { KeyState, SaveOptions } from '../src/state/KeyStateStore.ts';
import { RedisSnapshotStore } from '../src/state/RedisSnapshotStore.ts';
import { lineSearches, uniformBox } from '../test/detectors/helpers/attacks.ts';
import { humanTimes, naturalKey, World } from '../test/detectors/helpers/world.ts';
import { writeResultsSection } from './utils/results.ts';
import { markdownTable, printTable, sig } from './utils/table.ts';
import { median } from './utils/timing.ts';

const KEYS = 200;
const PER_KEY = 40;
const ROUNDS = 3;
const RATE = 2_000;
const FETCH = 20;
const T0 = Date.UTC(2024, 0, 15, 8);
const WALL0 = T0 + 24 * 3_600_000;

function traffic(): InferenceEvent[] {
  const world = new World({ seed: 12 });
  const events: InferenceEvent[] = [];
  for (let k = 0; k < KEYS; k++) {
    const times = humanTimes(world, PER_KEY, T0, 20_000);
    if (k % 8 === 6) events.push(...lineSearches(world, `k${k}`, Math.ceil(PER_KEY / 12), 10, times).slice(0, PER_KEY));
    else if (k % 8 === 7) events.push(...uniformBox(world, `k${k}`, times, 5, { tenant: `t${k % 5}` }));
    else events.push(...naturalKey(world, `k${k}`, PER_KEY, times, { tenant: `t${k % 5}`, clientIp: `10.1.${k % 50}.${k % 250}` }));
  }
  return events.sort((a, b) => a.ts - b.ts);
}

/** The store `run` used before issue 12, as the baseline: one JSON string per key. */
class JsonSnapshotStore {
  bytes = 0;
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}
  async load(keys: readonly string[]): Promise<Map<string, KeyState>> {
    const values = await this.redis.mget(keys.map((k) => `${this.prefix}state:${k}`));
    return new Map(values.flatMap((v, i) => (v === null ? [] : [[keys[i], JSON.parse(v) as KeyState] as const])));
  }
  async save(states: readonly KeyState[]): Promise<void> {
    const pipe = this.redis.pipeline();
    for (const s of states) {
      const json = JSON.stringify(s);
      this.bytes += Buffer.byteLength(json);
      pipe.set(`${this.prefix}state:${s.key}`, json, 'PX', 600_000);
    }
    await pipe.exec();
  }
}

interface Run {
  name: string;
  events: number;
  snapshots: number;
  bytes: number;
  saveSeconds: number;
  seconds: number;
  /** User and system CPU of this process (Redis's own work excluded): steadier than wall time on a shared machine. */
  cpuSeconds: number;
  commits: number;
}

async function measure(name: string, redis: Redis, messages: { offset: string; value: Buffer }[], layout: 'json' | 'binary', snapshotEveryMs: number): Promise<Run> {
  const prefix = `pwbench:snapshots:${process.pid}:${name.replace(/\W+/g, '-')}:`;
  const inner = layout === 'json' ? new JsonSnapshotStore(redis, prefix) : new RedisSnapshotStore(redis, { keyPrefix: prefix, ttlMs: 600_000 });
  let snapshots = 0;
  let saveSeconds = 0;
  const snapshotStore = {
    load: (keys: readonly string[]) => inner.load(keys),
    async save(states: readonly KeyState[], options?: SaveOptions) {
      const t = performance.now();
      await inner.save(states, options);
      saveSeconds += (performance.now() - t) / 1000;
      snapshots += states.length;
    },
  };
  let now = 0;
  const pipeline = new DetectionPipeline(configSchema.parse({}), { compute: await createCompute('cpu') });
  const processor = new BatchProcessor({
    pipeline,
    codec: new AvroEventCodec(),
    publisher: { publish: async () => {} },
    decisionStore: new InMemorySink(undefined, false),
    snapshots: snapshotStore,
    logger: silentLogger(),
    now: () => now,
    snapshotEveryMs,
  });
  let commits = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < messages.length; i += FETCH) {
    // The wall clock runs after the event times (an event ahead of it would be refused as from the future).
    now = WALL0 + (i / RATE) * 1000;
    commits += (await processor.process({ topic: 'events', partition: 0, messages: messages.slice(i, i + FETCH) })).commits.length;
  }
  commits += (await processor.snapshotNow({ force: true })).length;
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  const bytes = inner instanceof JsonSnapshotStore ? inner.bytes : inner.stats.bytes;
  if (snapshots === 0) throw new Error(`${name}: no snapshot written (events refused?)`);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  return { name, events: messages.length, snapshots, bytes, saveSeconds, seconds, cpuSeconds, commits };
}

async function main(): Promise<void> {
  const codec = new AvroEventCodec();
  const messages = traffic().map((e, i) => ({ offset: String(i), value: codec.encode(e) }));
  const redis = new Redis(process.env.PROBEWATCH_BENCH_REDIS ?? 'redis://127.0.0.1:6379');
  const rounds: Run[][] = [];
  // Alternated; a warm-up round first, then the median of ROUNDS (the machine is shared).
  for (let round = 0; round <= ROUNDS; round++) {
    const these = [
      await measure('baseline: JSON, every batch', redis, messages, 'json', 0),
      await measure('binary sections, every batch', redis, messages, 'binary', 0),
      await measure('binary sections, every 1 s (default)', redis, messages, 'binary', 1_000),
    ];
    if (round > 0) rounds.push(these);
  }
  await redis.quit();
  const runs = rounds[0].map((r, v) => ({ ...r, seconds: median(rounds.map((x) => x[v].seconds)), saveSeconds: median(rounds.map((x) => x[v].saveSeconds)), cpuSeconds: median(rounds.map((x) => x[v].cpuSeconds)) }));
  const base = runs[0];
  const header = ['snapshots', 'key snapshots per event', 'bytes per key snapshot', 'bytes written per event', 'ms saving per 1k events', 'events/s through the BatchProcessor', 'vs baseline', 'events per CPU second', 'vs baseline (CPU)', 'commits'];
  const rows = runs.map((r) => [
    r.name,
    sig(r.snapshots / r.events),
    `${Math.round(r.bytes / Math.max(1, r.snapshots))}`,
    `${Math.round(r.bytes / r.events)}`,
    sig((r.saveSeconds * 1000 * 1000) / r.events),
    `${Math.round(r.events / r.seconds)}`,
    `${sig(base.seconds / r.seconds)}×`,
    `${Math.round(r.events / r.cpuSeconds)}`,
    `${sig(base.cpuSeconds / r.cpuSeconds)}×`,
    String(r.commits),
  ]);
  printTable(`snapshots: ${base.events} events, ${KEYS} keys, offered ${RATE}/s in fetches of ${FETCH}`, header, rows);
  writeResultsSection({
    name: 'snapshots',
    title: 'snapshots (issue 12)',
    command: 'npm run bench:snapshots',
    setup: `Redis at 127.0.0.1:6379 on the same machine`,
    body: [
      `${base.events} events of ${KEYS} keys (the detector tests' synthetic deployment; every default detector), offered at ${RATE} events/s in fetches of ${FETCH} (simulated wall clock), through the BatchProcessor with outputs to in-memory sinks and snapshots to Redis. The baseline is the store \`run\` used before issue 12 (one JSON string per key, after every batch), measured in the same run; times are the median of ${ROUNDS} alternated rounds after a warm-up round.`,
      '',
      markdownTable(header, rows),
      'Wall time and CPU time of this process (Redis runs apart, on the same 2 cores, which other sessions shared: see the load average above). Bytes are the snapshot payloads sent (JSON text; binary sections that changed), without Redis framing. "ms saving" is the time spent in the snapshot store\'s save, encoding included. Commits: offset commits handed back (one per partition per snapshot).',
    ].join('\n'),
  });
}

await main();
