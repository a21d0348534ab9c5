/**
 * bench:speed, run scenario: a topic holding the recorded stream (Avro, keyed
 * by api_key) read to its end by a raw KafkaJS consumer (fresh group, the
 * fetch settings of `probewatch run`, messages only counted) and by
 * `probewatch run` (all detectors, the real Redis, fresh group and key
 * prefix), alternated round by round; medians of events per second. Each
 * clock starts when the consumer has joined its group (start-up and the
 * group join are left out) and stops when every message is counted
 * (raw) or committed (probewatch: decoded, scored, published, snapshotted).
 */
import type { InferenceEvent } from '../src/contract.ts';
import { benchKafka, committedCount, runNames, startRun } from './utils/broker.ts';
import { eventProducer, topicExtent } from './utils/produce.ts';
import { median, sleep } from './utils/timing.ts';

/** The consumer settings `probewatch run` uses (src/cli/run.ts); everything else at KafkaJS's defaults on both sides. */
export const RUN_FETCH = { maxWaitTimeInMs: 1_000, sessionTimeout: 10_000, heartbeatInterval: 3_000 };

export interface RunRatio {
  rounds: number;
  events: number;
  rawEps: number;
  runEps: number;
}

/** A raw KafkaJS consumer in a fresh group reading `topic` from the beginning: `joined` settles at its group join, `seconds` once `total` messages were seen (seconds since the join). */
export interface RawRead {
  joined: Promise<void>;
  seconds: Promise<number>;
}

export async function rawConsume(brokers: string[], topic: string, total: number, groupId: string, onMessage?: (timestamp: number) => void, timeoutMs = 300_000): Promise<RawRead> {
  const consumer = benchKafka(brokers, `${groupId}-raw`).consumer({ groupId, ...RUN_FETCH });
  let joinedAt = 0;
  let seen = 0;
  let joined!: () => void;
  let done!: () => void;
  let timer: NodeJS.Timeout | undefined;
  const finished = new Promise<void>((resolve, reject) => {
    done = resolve;
    timer = setTimeout(() => reject(new Error(`the raw consumer saw ${seen} of ${total} messages of ${topic} in ${timeoutMs / 1000} s`)), timeoutMs);
  }).finally(() => clearTimeout(timer));
  const read: RawRead = {
    joined: new Promise<void>((r) => (joined = r)),
    seconds: finished.then(
      async () => {
        const seconds = (performance.now() - joinedAt) / 1000;
        await consumer.disconnect();
        return seconds;
      },
      async (err: unknown) => {
        await consumer.disconnect();
        throw err;
      },
    ),
  };
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joinedAt ||= performance.now();
    joined();
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      if (onMessage) for (const m of batch.messages) onMessage(Number(m.timestamp));
      seen += batch.messages.length;
      if (seen >= total) done();
    },
  });
  return read;
}

/** `probewatch run` on `topic` until the group's committed offsets add up to `end`; seconds from its group join to that. */
async function probewatchConsume(brokers: string[], dir: string, id: string, topic: string, end: number): Promise<number> {
  const run = startRun(dir, id, brokers, runNames(id, topic));
  const admin = benchKafka(brokers, `${id}-admin`).admin();
  await admin.connect();
  try {
    const joinedAt = await run.joined;
    const deadline = Date.now() + 600_000;
    while ((await committedCount(admin, run.names.groupId, topic)) < end) {
      if (run.child.exitCode !== null || Date.now() > deadline) throw new Error(`probewatch run did not commit the topic: ${run.stderrTail()}`);
      await sleep(100);
    }
    return (performance.now() - joinedAt) / 1000;
  } finally {
    await admin.disconnect();
    await run.stop();
  }
}

export async function runRatio(brokers: string[], dir: string, events: readonly InferenceEvent[], rounds: number, log: (s: string) => void): Promise<RunRatio> {
  const id = `bench-speed-${Date.now().toString(36)}`;
  const topic = `${id}.events`;
  const kafka = benchKafka(brokers, `${id}-producer`);
  const { producer, send } = await eventProducer(kafka);
  for (let i = 0; i < events.length; i += 2_000) await send(topic, events.slice(i, i + 2_000));
  await producer.disconnect();
  const extent = await topicExtent(kafka, topic);
  if (extent.trimmed > 0) log(`warning: the broker trimmed ${extent.trimmed} of the ${events.length} messages (it keeps about 5 MB per partition); measuring the ${extent.messages} left`);
  const raw: number[] = [];
  const run: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const a = await (await rawConsume(brokers, topic, extent.messages, `${id}.raw-${r}`)).seconds;
    raw.push(extent.messages / a);
    const b = await probewatchConsume(brokers, dir, `${id}-r${r}`, topic, extent.messages + extent.trimmed);
    run.push(extent.messages / b);
    log(`run round ${r + 1}/${rounds}: raw consumer ${Math.round(extent.messages / a)}/s, probewatch run ${Math.round(extent.messages / b)}/s`);
  }
  return { rounds, events: extent.messages, rawEps: median(raw), runEps: median(run) };
}
