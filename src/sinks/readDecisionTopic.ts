import type { Kafka } from 'kafkajs';
import { decisionCodec } from '../codec/contractCodecs.ts';
import { DECISION_SIGNATURE_HEADER, type SignedDecision } from '../codec/decisionSignature.ts';
import { readTopicToEnd } from '../sources/readTopicToEnd.ts';

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
  const out: DecisionTopicContents = { latest: new Map(), invalid: 0 };
  await readTopicToEnd(
    kafka,
    topic,
    (m) => {
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
    },
    { groupPrefix: 'probewatch-decision-restore', timeoutMs, retriable: true, maxWaitTimeInMs: 500 },
  );
  return out;
}
