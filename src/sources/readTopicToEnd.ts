import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { ProbewatchError } from '../errors.ts';

export interface ReadToEndOptions {
  /** Prefix of the throw-away consumer group's id. */
  groupPrefix: string;
  timeoutMs: number;
  /** Whether a read that timed out or could not start may be retried (the error's `retriable`). */
  retriable?: boolean;
  maxWaitTimeInMs?: number;
}

/**
 * Reads `topic` from the beginning up to the high watermarks it has when
 * called, handing each message below them to `visit`, in a consumer group of
 * its own that commits nothing (so nobody's offsets move). Rejects with a
 * `PW_SINK` error naming the topic when it cannot catch up in `timeoutMs`.
 */
export async function readTopicToEnd(kafka: Kafka, topic: string, visit: (m: KafkaMessage, partition: number) => void, options: ReadToEndOptions): Promise<void> {
  const retriable = options.retriable ?? false;
  const admin = kafka.admin();
  let targets: Map<number, bigint>;
  try {
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    targets = new Map(offsets.filter((o) => BigInt(o.low) < BigInt(o.high)).map((o) => [o.partition, BigInt(o.high)]));
  } catch (cause) {
    throw new ProbewatchError('PW_SINK', `cannot read the offsets of topic ${topic}: ${(cause as Error).message}`, { cause, retriable });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  if (targets.size === 0) return;

  const consumer = kafka.consumer({ groupId: `${options.groupPrefix}-${randomUUID()}`, maxWaitTimeInMs: options.maxWaitTimeInMs ?? 250 });
  const positions = new Map<number, bigint>();
  let done!: () => void;
  const caughtUp = new Promise<void>((resolve) => (done = resolve));
  const check = () => {
    for (const [partition, high] of targets) if ((positions.get(partition) ?? 0n) < high) return;
    done();
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const high = targets.get(batch.partition) ?? 0n;
        for (const m of batch.messages) if (BigInt(m.offset) < high) visit(m, batch.partition);
        positions.set(batch.partition, BigInt(batch.lastOffset()) + 1n);
        check();
      },
    });
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), options.timeoutMs)));
    if ((await Promise.race([caughtUp, timedOut])) === 'timeout') {
      throw new ProbewatchError('PW_SINK', `could not read topic ${topic} to its end within ${options.timeoutMs} ms`, { retriable });
    }
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
  }
}
