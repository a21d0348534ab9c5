/**
 * bench:speed, offered-load scenario: the recorded stream played onto a fresh
 * topic at a fixed rate (events stamped with the wall clock as they are
 * sent, looping over the stream with fresh event ids), once read by a raw
 * KafkaJS consumer (latency: time read − event ts) and once by
 * `probewatch run` (latency: the RiskScore record's timestamp, which `run`'s
 * producer stamps as it sends it, − the event ts the RiskScore carries), both
 * with `run`'s fetch settings. The time the bench's own consumer read the
 * RiskScore is reported beside it: that second fetch from the risk topic is
 * the reader's hop (a gateway's), not probewatch's, and waits up to its own
 * `maxWaitTimeInMs`.
 * RiskScores are what `run` publishes with the default config: level
 * changes and every `publish.riskEveryEvents`-th event of a key.
 */
import type { Kafka } from 'kafkajs';
import { riskScoreCodec } from '../src/codec/contractCodecs.ts';
import type { InferenceEvent } from '../src/contract.ts';
import { benchKafka, committedCount, runNames, startRun } from './utils/broker.ts';
import { eventProducer } from './utils/produce.ts';
import { percentile, sleep } from './utils/timing.ts';
import { RUN_FETCH, rawConsume } from './speed-run.ts';

export interface Latencies {
  samples: number;
  p50: number;
  p99: number;
}

export interface LoadResult {
  rate: number;
  seconds: number;
  /** Rate actually offered (events sent / seconds taken to send them), for the raw and the probewatch phases. */
  offeredRaw: number;
  offeredRun: number;
  raw: Latencies;
  run: Latencies & {
    /** Event → the bench's consumer read the RiskScore from the risk topic (one fetch more than `p50`/`p99`, which end when `run` sent it). */
    read?: Latencies;
    /** Events produced but not yet committed when production ended. */
    backlogAtEnd: number;
    /** Whether every event was committed within the drain time; when not, the RiskScores still due are missing and p50/p99 are lower bounds. */
    drained: boolean;
    drainSeconds: number;
  };
}

function latencies(xs: number[]): Latencies {
  return { samples: xs.length, p50: percentile(xs, 50), p99: percentile(xs, 99) };
}

/** The stream looped at event `i`, stamped `now`: fresh event ids on each pass, keys and content as recorded. */
function replayed(events: readonly InferenceEvent[], i: number, now: number): InferenceEvent {
  const e = events[i % events.length];
  return { ...e, event_id: `${e.event_id}~${Math.floor(i / events.length)}`, ts: now };
}

/**
 * Sends `rate × seconds` events to `topic` on a 50 ms tick, as many per send
 * as are due, each stamped when sent; returns the rate achieved. (On a 5 ms
 * tick the mock broker's many small record batches left even the raw
 * consumer seconds behind.)
 */
async function offer(kafka: Kafka, topic: string, events: readonly InferenceEvent[], rate: number, seconds: number): Promise<number> {
  const { producer, send } = await eventProducer(kafka);
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  let sent = 0;
  try {
    while (sent < total) {
      const due = Math.min(total, Math.floor((rate * (performance.now() - t0)) / 1000));
      if (due <= sent) {
        await sleep(50);
        continue;
      }
      const now = Date.now();
      const batch: InferenceEvent[] = [];
      while (sent < due) batch.push(replayed(events, sent++, now));
      await send(topic, batch);
    }
    return total / ((performance.now() - t0) / 1000);
  } finally {
    await producer.disconnect();
  }
}

async function rawPhase(brokers: string[], id: string, events: readonly InferenceEvent[], rate: number, seconds: number): Promise<{ offered: number; lat: Latencies }> {
  const topic = `${id}.events`;
  const lat: number[] = [];
  const total = Math.round(rate * seconds);
  const read = await rawConsume(brokers, topic, total, `${id}.raw`, (ts) => lat.push(Date.now() - ts), (seconds + 60) * 1000);
  await read.joined;
  const offered = await offer(benchKafka(brokers, `${id}-producer`), topic, events, rate, seconds);
  // A consumer that stops short is reported with what it read, not waited for.
  await read.seconds.catch((err: Error) => process.stderr.write(`warning: ${err.message}\n`));
  return { offered, lat: latencies(lat) };
}

async function runPhase(brokers: string[], dir: string, id: string, events: readonly InferenceEvent[], rate: number, seconds: number, drainSeconds: number) {
  const names = runNames(id);
  const run = startRun(dir, id, brokers, names);
  const kafka = benchKafka(brokers, `${id}-bench`);
  const admin = kafka.admin();
  const riskReader = kafka.consumer({ groupId: `${id}.risk-reader`, ...RUN_FETCH });
  const lat: number[] = [];
  const readLat: number[] = [];
  let riskJoined!: () => void;
  const riskReady = new Promise<void>((r) => (riskJoined = r));
  riskReader.on(riskReader.events.GROUP_JOIN, () => riskJoined());
  try {
    await admin.connect();
    await riskReader.connect();
    await riskReader.subscribe({ topics: [names.topics.risk], fromBeginning: true });
    await riskReader.run({
      eachBatch: async ({ batch }) => {
        const now = Date.now();
        for (const m of batch.messages) {
          const ts = riskScoreCodec.decode(m.value!).ts;
          lat.push(Number(m.timestamp) - ts);
          readLat.push(now - ts);
        }
      },
    });
    await Promise.all([run.joined, riskReady]);
    const offered = await offer(kafka, names.topics.events, events, rate, seconds);
    const end = Math.round(rate * seconds);
    const backlogAtEnd = end - (await committedCount(admin, names.groupId, names.topics.events));
    const t0 = performance.now();
    let drained = false;
    while (!(drained = (await committedCount(admin, names.groupId, names.topics.events)) >= end) && performance.now() - t0 < drainSeconds * 1000) {
      if (run.child.exitCode !== null) throw new Error(`probewatch run exited: ${run.stderrTail()}`);
      await sleep(200);
    }
    const drainedIn = (performance.now() - t0) / 1000;
    // The last RiskScores are a fetch away from the reader.
    await sleep(RUN_FETCH.maxWaitTimeInMs + 500);
    return { offered, lat: { ...latencies(lat), read: latencies(readLat), backlogAtEnd, drained, drainSeconds: drainedIn } };
  } finally {
    await riskReader.disconnect();
    await admin.disconnect();
    await run.stop();
  }
}

export async function offeredLoad(
  brokers: string[],
  dir: string,
  events: readonly InferenceEvent[],
  rates: readonly number[],
  seconds: number,
  drainSeconds: number,
  log: (s: string) => void,
): Promise<LoadResult[]> {
  const base = `bench-load-${Date.now().toString(36)}`;
  const results: LoadResult[] = [];
  for (const rate of rates) {
    const raw = await rawPhase(brokers, `${base}-${rate}-raw`, events, rate, seconds);
    const run = await runPhase(brokers, dir, `${base}-${rate}-run`, events, rate, seconds, drainSeconds);
    const r: LoadResult = { rate, seconds, offeredRaw: raw.offered, offeredRun: run.offered, raw: raw.lat, run: run.lat };
    log(
      `offered ${rate}/s for ${seconds} s: raw p50 ${r.raw.p50} ms p99 ${r.raw.p99} ms (${r.raw.samples}); ` +
        `probewatch p50 ${r.run.p50} ms p99 ${r.run.p99} ms (${r.run.samples} RiskScores, backlog ${r.run.backlogAtEnd} at the end, ${r.run.drained ? 'drained' : 'NOT drained'} in ${r.run.drainSeconds.toFixed(1)} s)`,
    );
    results.push(r);
  }
  return results;
}
