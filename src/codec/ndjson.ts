import type { InferenceEvent, RiskScore } from '../contract.ts';
import { ProbewatchError } from '../errors.ts';
import { type EventLimits, validateEvent } from './validateEvent.ts';

const HEX64 = /^[0-9a-f]{64}$/;

/** Parses one NDJSON line into an event: `ts` in integer ms, `input_hash` as 64 lowercase hex. */
export function parseEventLine(line: string, limits?: Readonly<EventLimits>): InferenceEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (cause) {
    throw new ProbewatchError('PW_DECODE_JSON', `not JSON: ${(cause as Error).message}`, { cause });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ProbewatchError('PW_INVALID_EVENT', 'an event line must be a JSON object', { reason: 'not_object' });
  }
  const obj = raw as Record<string, unknown>;
  if (typeof obj.input_hash !== 'string' || !HEX64.test(obj.input_hash)) {
    throw new ProbewatchError('PW_INVALID_EVENT', 'input_hash must be 64 lowercase hex characters', { reason: 'bad_hash' });
  }
  // `obj` is this line's own fresh object: converting the hash in place spares a copy of every field.
  obj.input_hash = Buffer.from(obj.input_hash, 'hex');
  return validateEvent(obj, limits);
}

/** The NDJSON form of an event (no trailing newline). */
export function formatEventLine(event: InferenceEvent): string {
  return JSON.stringify({ ...event, input_hash: event.input_hash.toString('hex') });
}

/** The NDJSON form of a RiskScore, fields in contract order, `final` only when set. */
export function formatRiskScore(score: RiskScore): string {
  const { final, ...rest } = score;
  return JSON.stringify(final ? { ...rest, final: true } : rest);
}
