/**
 * Errors carry a code from a closed union, a cause, and whether a retry can
 * help. Retry and dead-letter decisions read these fields, never message text.
 */
export type ErrorCode =
  | 'PW_DECODE_FRAMING' // not Confluent-framed Avro
  | 'PW_DECODE_AVRO' // framed, but the payload is not a valid InferenceEvent
  | 'PW_DECODE_JSON' // an NDJSON line that is not JSON
  | 'PW_INVALID_EVENT' // decodes, but violates the contract (bad hash length, NaN …)
  | 'PW_UNKNOWN_SCHEMA' // schema id not known to this reader
  | 'PW_CONFIG' // configuration file or environment is invalid
  | 'PW_DETECTOR' // a detector threw
  | 'PW_SINK' // a sink failed to accept output (retriable)
  | 'PW_STATE' // snapshot store unavailable (retriable)
  | 'PW_STATE_LOST' // the snapshot store no longer holds what this instance wrote (Redis restarted empty): not retried as is, everything in memory is rewritten
  | 'PW_UNREACHABLE' // Kafka, Redis or the HTTP listener could not be reached or bound at start-up
  | 'PW_CAPACITY' // a key cannot be held in memory: every key held is in use (state.maxKeys too small for one batch)
  | 'PW_USAGE'; // bad command-line usage

/**
 * Why an event was refused (`PW_INVALID_EVENT`), one code per rule of the
 * contract and of the input limits (config `input`). Dead letters and the
 * `probewatch_invalid_events_total` metric carry it.
 */
export const INVALID_EVENT_REASONS = [
  'not_object', // an NDJSON line that is JSON but not an object
  'missing_field', // a required field absent or empty
  'wrong_type', // a field of the wrong type
  'string_too_long', // api_key, model_id, tenant, event_id, client_ip or enforcement past its limit
  'bad_hash', // input_hash not 32 bytes (64 lowercase hex in NDJSON)
  'ts_range', // ts not a non-negative integer of epoch milliseconds
  'not_finite', // a number that is NaN or infinite
  'vector_too_long', // input_sketch wider than input.maxSketchWidth, or more classes than input.maxClasses
  'probs_range', // a probability outside [0, 1]
  'probs_sum', // probabilities that do not sum to 1 within input.probsTolerance
  'label_range', // output_label below -1 or not a class of output_probs
  'status_range', // status outside input.statusMin..statusMax
  'latency_range', // latency_ms negative
  'sketch_width_changed', // a sketch width other than the model's (fixed by its first events)
  'classes_changed', // a class count other than the model's (fixed by its first events)
  'event_late', // ts more than input.maxLatenessMs behind its partition's event time
  'event_future', // ts more than input.maxFutureMs ahead of the wall clock
] as const;

export type InvalidEventReason = (typeof INVALID_EVENT_REASONS)[number];

export class ProbewatchError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  /** For `PW_INVALID_EVENT`: which rule the event broke. */
  readonly reason?: InvalidEventReason;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retriable?: boolean; reason?: InvalidEventReason } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProbewatchError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    if (options.reason !== undefined) this.reason = options.reason;
  }
}

export function isProbewatchError(err: unknown, code?: ErrorCode): err is ProbewatchError {
  return err instanceof ProbewatchError && (code === undefined || err.code === code);
}
