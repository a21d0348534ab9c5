import type { AvroEventCodec } from '../codec/AvroEventCodec.ts';
import type { DeadLetter, InferenceEvent } from '../contract.ts';
import { type ErrorCode, isProbewatchError } from '../errors.ts';

/** A message as read from a partition. */
export interface SourceMessage {
  offset: string;
  value: Buffer | null;
}

/** An event with where it came from, so reprocessing can be recognised. */
export interface SourcedEvent {
  event: InferenceEvent;
  partition: number;
  offset: string;
  /** The message's bytes, for a dead letter should a later check refuse the event. */
  raw?: Buffer;
}

/** Codes that mean "this message can never be processed": it goes to the dead-letter topic. */
const DEAD_LETTER_CODES: ReadonlySet<ErrorCode> = new Set(['PW_DECODE_FRAMING', 'PW_DECODE_AVRO', 'PW_DECODE_JSON', 'PW_INVALID_EVENT', 'PW_UNKNOWN_SCHEMA']);

/**
 * Decodes one partition's messages. Bytes that are not a valid event become
 * DeadLetters with the error code and message; any other failure is a bug
 * and is thrown. `now` stamps the dead letters (wall clock at the edge).
 */
export function decodeMessages(
  codec: AvroEventCodec,
  topic: string,
  partition: number,
  messages: readonly SourceMessage[],
  now: number,
): { events: SourcedEvent[]; deadLetters: DeadLetter[] } {
  const events: SourcedEvent[] = [];
  const deadLetters: DeadLetter[] = [];
  for (const m of messages) {
    const raw = m.value ?? Buffer.alloc(0);
    try {
      events.push({ event: codec.decode(raw), partition, offset: m.offset, raw });
    } catch (err) {
      if (!isProbewatchError(err) || !DEAD_LETTER_CODES.has(err.code)) throw err;
      deadLetters.push({ raw, topic, partition, offset: m.offset, error_code: err.code, message: err.message, ts: now, reason: err.reason ?? null });
    }
  }
  return { events, deadLetters };
}
