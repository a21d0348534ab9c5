import type { Kafka } from 'kafkajs';
import { readTopicToEnd } from '../sources/readTopicToEnd.ts';

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
  const out: ReadMessage[] = [];
  await readTopicToEnd(
    kafka,
    topic,
    (m) => {
      const key = m.key?.toString('utf8') ?? '';
      if (m.value && keep(key)) out.push({ key, value: m.value, timestamp: Number(m.timestamp) });
    },
    { groupPrefix: 'probewatch-explain', timeoutMs },
  );
  return out;
}
