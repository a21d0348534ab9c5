import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { decisionCodec } from '../codec/contractCodecs.ts';
import { DECISION_SIGNATURE_HEADER, type SignedDecision } from '../codec/decisionSignature.ts';
import { ProbewatchError } from '../errors.ts';

/** What a read of the decisions topic found. */
export interface DecisionTopicContents {
  /** The latest decision per key (with its signature header, when it had one), for keys whose latest decision `live` accepts. */
  latest: Map<string, SignedDecision>;
  /** Messages that were not a Decision. */
  invalid: number;
}

/**
 * Reads the compacted decisions topic from the beginning up to the high
 * watermarks found at the start: the latest decision per key is the set of
 * decisions probewatch last issued, whichever instance issued them. Joins a
 * throw-away consumer group and commits nothing. A key whose latest
 * decision `live` refuses (expired) is dropped as it is read, so memory
 * holds only the decisions in force. Rejects with a retriable `PW_SINK`
 * error when the topic cannot be read within `timeoutMs`.
 */
export async function readDecisionTopic(kafka: Kafka, topic: string, live: (d: SignedDecision) => boolean = () => true, timeoutMs = 60_000): Promise<DecisionTopicContents> {
  const admin = kafka.admin();
  await admin.connect();
  let targets: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    targets = new Map(offsets.filter((o) => BigInt(o.low) < BigInt(o.high)).map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
  const out: DecisionTopicContents = { latest: new Map(), invalid: 0 };
  if (targets.size === 0) return out;

  const consumer = kafka.consumer({ groupId: `probewatch-decision-restore-${randomUUID()}`, maxWaitTimeInMs: 500 });
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
        for (const m of batch.messages) {
          const offset = BigInt(m.offset);
          if (offset >= (targets.get(batch.partition) ?? 0n)) continue;
          try {
            if (!m.value) throw new Error('no value');
            const d: SignedDecision = decisionCodec.decode(m.value);
            const sig = m.headers?.[DECISION_SIGNATURE_HEADER];
            const first = Array.isArray(sig) ? sig[0] : sig;
            if (first !== undefined) d.sig = first.toString();
            if (live(d)) out.latest.set(d.api_key, d);
            else out.latest.delete(d.api_key);
          } catch {
            out.invalid++;
          }
        }
        positions.set(batch.partition, BigInt(batch.lastOffset()) + 1n);
        check();
      },
    });
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    if ((await Promise.race([caughtUp, timedOut])) === 'timeout') {
      throw new ProbewatchError('PW_SINK', `could not read the decisions topic ${topic} within ${timeoutMs} ms`, { retriable: true });
    }
    return out;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => {});
  }
}
