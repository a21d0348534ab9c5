/**
 * `npm run bench:decisions`: the gateway's decision read path against the
 * real Redis (PROBEWATCH_REDIS_URL, default redis://127.0.0.1:6379).
 *
 * - `decisionFor()` latency per call (p50/p99/p99.9, one hrtime pair per
 *   call) and mean over a tight loop, for keys with a decision and keys
 *   without, next to the baselines of a bare `Map.get` timed the same way
 *   and of an empty hrtime pair (the timer's own cost);
 * - delivery: from `RedisDecisionStore.publish()` to the reader answering
 *   the new level, next to a bare PUBLISH → subscriber round trip;
 * - the start-up snapshot (SCAN + pipelined HGETALL) of N decisions, and
 *   the store's write rate next to bare pipelined HSETs.
 *
 * Prints a table and writes its section of benchmarks/RESULTS.md. Keys live
 * under a unique prefix and are deleted at the end.
 */
import { randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { Redis } from 'ioredis';
import { type Decision, LEVELS } from '../src/contract.ts';
import { DecisionReader } from '../src/gateway/DecisionReader.ts';
import { RedisDecisionStore } from '../src/sinks/RedisDecisionStore.ts';
import { replaceResultsBlock } from './utils/results.ts';

const REDIS_URL = process.env.PROBEWATCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 50_000);
const TIMED_CALLS = 500_000;
const LOOP_CALLS = 5_000_000;
const DELIVERIES = 500;
const WRITE_BATCH = 1_000;

function quantiles(ns: Float64Array): { p50: number; p99: number; p999: number } {
  const s = Float64Array.from(ns).sort();
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { p50: q(0.5), p99: q(0.99), p999: q(0.999) };
}

/** Per-call latency of `fn` over `keys` (ns), one hrtime pair per call. */
function timePerCall(keys: string[], fn: (k: string) => unknown): Float64Array {
  const out = new Float64Array(TIMED_CALLS);
  let sink = 0;
  for (let i = 0; i < TIMED_CALLS; i++) {
    const k = keys[i % keys.length];
    const t0 = process.hrtime.bigint();
    const r = fn(k);
    const t1 = process.hrtime.bigint();
    if (r) sink++;
    out[i] = Number(t1 - t0);
  }
  if (sink < 0) console.log(sink);
  return out;
}

/** Mean ns per call of `fn` over a tight loop. */
function timeLoop(keys: string[], fn: (k: string) => unknown): number {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < LOOP_CALLS; i++) if (fn(keys[i % keys.length])) sink++;
  const ns = Number(process.hrtime.bigint() - t0) / LOOP_CALLS;
  if (sink < 0) console.log(sink);
  return ns;
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setImmediate(r));
}

async function main(): Promise<void> {
  const id = randomBytes(4).toString('hex');
  const keyPrefix = `pwbench:${id}:`;
  const channel = `${keyPrefix}decisions`;
  const redis = new Redis(REDIS_URL);
  const store = new RedisDecisionStore(redis, { keyPrefix, channel });
  const expires = Date.now() + 3_600_000;
  const decisions: Decision[] = Array.from({ length: DECISIONS }, (_, i) => ({
    api_key: `key-${i}`,
    level: LEVELS[1 + (i % (LEVELS.length - 1))],
    reason: `bench decision ${i}`,
    expires_at: expires,
    shadow: i % 10 === 0,
  }));

  try {
    // Store writes vs bare pipelined HSETs of the same fields.
    let t0 = performance.now();
    for (let i = 0; i < DECISIONS; i += WRITE_BATCH) await store.publish(decisions.slice(i, i + WRITE_BATCH));
    const storeRate = DECISIONS / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    for (let i = 0; i < DECISIONS; i += WRITE_BATCH) {
      const pipe = redis.pipeline();
      for (const d of decisions.slice(i, i + WRITE_BATCH)) pipe.hset(`${keyPrefix}bare:${d.api_key}`, { level: d.level, reason: d.reason, expires_at: String(d.expires_at), shadow: '0' });
      await pipe.exec();
    }
    const bareRate = DECISIONS / ((performance.now() - t0) / 1000);

    // Start-up snapshot.
    const reader = new DecisionReader(redis, { keyPrefix, channel });
    t0 = performance.now();
    const synced = await reader.start();
    const snapshotMs = performance.now() - t0;
    if (!synced || reader.counters().cached !== DECISIONS) throw new Error(`snapshot incomplete: ${reader.counters().cached} of ${DECISIONS}`);

    // decisionFor vs Map.get, hits and misses.
    const hits = Array.from({ length: 4096 }, (_, i) => `key-${(i * 7919) % DECISIONS}`);
    const misses = Array.from({ length: 4096 }, (_, i) => `unknown-${i}`);
    const baseline = new Map(decisions.map((d) => [d.api_key, d]));
    const read = (k: string) => reader.decisionFor(k);
    const bare = (k: string) => baseline.get(k);
    // Warm up the JIT on both before measuring.
    timeLoop(hits, read);
    timeLoop(hits, bare);
    const timerOnly = quantiles(timePerCall(hits, () => 1));
    const rows = [
      { name: 'decisionFor, key with a decision', q: quantiles(timePerCall(hits, read)), loop: timeLoop(hits, read) },
      { name: 'decisionFor, key without', q: quantiles(timePerCall(misses, read)), loop: timeLoop(misses, read) },
      { name: 'baseline: Map.get, key present', q: quantiles(timePerCall(hits, bare)), loop: timeLoop(hits, bare) },
      { name: 'baseline: Map.get, key absent', q: quantiles(timePerCall(misses, bare)), loop: timeLoop(misses, bare) },
    ];

    // Delivery: publish → reader answers the new level; baseline: bare PUBLISH → subscriber.
    const delivery = new Float64Array(DELIVERIES);
    for (let i = 0; i < DELIVERIES; i++) {
      const key = `key-${i}`;
      const level = reader.decisionFor(key).level === 'block' ? 'observe' : 'block';
      const start = process.hrtime.bigint();
      await store.publish([{ api_key: key, level, reason: 'bench update', expires_at: expires, shadow: false }]);
      await until(() => reader.decisionFor(key).level === level);
      delivery[i] = Number(process.hrtime.bigint() - start);
    }
    const sub = new Redis(REDIS_URL);
    const bareChannel = `${keyPrefix}bare`;
    let received = 0;
    sub.on('message', () => received++);
    await sub.subscribe(bareChannel);
    const bareDelivery = new Float64Array(DELIVERIES);
    for (let i = 0; i < DELIVERIES; i++) {
      const start = process.hrtime.bigint();
      const want = received + 1;
      await redis.publish(bareChannel, 'x');
      await until(() => received >= want);
      bareDelivery[i] = Number(process.hrtime.bigint() - start);
    }
    await sub.quit();
    await reader.close();
    const dq = quantiles(delivery);
    const bq = quantiles(bareDelivery);

    const us = (ns: number) => (ns / 1000).toFixed(3);
    const ms = (ns: number) => (ns / 1e6).toFixed(2);
    const table = [
      '| read path | p50 µs | p99 µs | p99.9 µs | mean µs (tight loop) |',
      '|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.name} | ${us(r.q.p50)} | ${us(r.q.p99)} | ${us(r.q.p999)} | ${us(r.loop)} |`),
      `| timer only (empty hrtime pair) | ${us(timerOnly.p50)} | ${us(timerOnly.p99)} | ${us(timerOnly.p999)} | – |`,
    ];
    const delivered = [
      '| delivery | p50 ms | p99 ms | p99.9 ms |',
      '|---|---|---|---|',
      `| RedisDecisionStore.publish → DecisionReader answers the new level | ${ms(dq.p50)} | ${ms(dq.p99)} | ${ms(dq.p999)} |`,
      `| baseline: bare PUBLISH → subscriber message | ${ms(bq.p50)} | ${ms(bq.p99)} | ${ms(bq.p999)} |`,
    ];
    const other = [
      `Start-up snapshot of ${DECISIONS.toLocaleString('en')} decisions (SCAN + pipelined HGETALL, subscribe first): ${snapshotMs.toFixed(0)} ms.`,
      `Store writes (MULTI: HSET + PEXPIREAT + PUBLISH per decision, ${WRITE_BATCH} per call): ${Math.round(storeRate).toLocaleString('en')} decisions/s; baseline bare pipelined HSET: ${Math.round(bareRate).toLocaleString('en')} /s.`,
    ];
    const machine = `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, Redis ${REDIS_URL}`;
    const section = [
      '## Decision reads (`npm run bench:decisions`)',
      '',
      `Command: \`npm run bench:decisions\` · machine: ${machine} · date: ${new Date().toISOString()}`,
      '',
      `The gateway SDK's DecisionReader holding ${DECISIONS.toLocaleString('en')} decisions loaded from the real Redis. Per-call figures include the timer's own cost (last row); ${TIMED_CALLS.toLocaleString('en')} timed calls, ${LOOP_CALLS.toLocaleString('en')} in the tight loop.`,
      '',
      ...table,
      '',
      ...delivered,
      '',
      ...other,
      '',
    ].join('\n');
    process.stdout.write(`${section}\n`);
    replaceResultsBlock('decisions', section);
  } finally {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1_000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await redis.quit();
  }
}


await main();
