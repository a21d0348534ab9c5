import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { ProbewatchError } from '../errors.ts';

/** A message kept by `readTopic`. */
export interface ReadMessage {
  key: string;
  value: Buffer;
  /** The message's timestamp (epoch ms). */
  timestamp: number;
}

/**
 * Reads `topic` from the beginning up to the high watermarks it has when
 * called, keeping the messages whose key `keep` accepts, in a consumer group
 * of its own that commits nothing (so nobody's offsets move). Rejects with
 * a `PW_SINK` error naming the topic when it cannot catch up in `timeoutMs`.
 */
export async function readTopic(kafka: Kafka, topic: string, keep: (key: string) => boolean, timeoutMs = 60_000): Promise<ReadMessage[]> {
  const admin = kafka.admin();
  let targets: Map<number, bigint>;
  try {
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    targets = new Map(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]));
  } catch (cause) {
    throw new ProbewatchError('PW_SINK', `cannot read the offsets of topic ${topic}: ${(cause as Error).message}`, { cause });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  const out: ReadMessage[] = [];
  if (targets.size === 0) return out;
  const positions = new Map<number, bigint>();
  const consumer = kafka.consumer({ groupId: `probewatch-explain-${randomUUID()}`, maxWaitTimeInMs: 250 });
  let done!: () => void;
  const caughtUp = new Promise<void>((resolve) => (done = resolve));
  const check = () => {
    for (const [p, high] of targets) if ((positions.get(p) ?? 0n) < high) return;
    done();
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const key = m.key?.toString('utf8') ?? '';
          if (m.value && keep(key)) out.push({ key, value: m.value, timestamp: Number(m.timestamp) });
          positions.set(batch.partition, BigInt(m.offset) + 1n);
        }
        check();
      },
    });
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    if ((await Promise.race([caughtUp, timedOut])) === 'timeout') {
      throw new ProbewatchError('PW_SINK', `could not read topic ${topic} to its end within ${timeoutMs} ms`);
    }
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
  }
  return out;
}
