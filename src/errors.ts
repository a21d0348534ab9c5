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
  | 'PW_CAPACITY' // a key cannot be held in memory: every key held is in use (state.maxKeys too small for one batch)
  | 'PW_USAGE'; // bad command-line usage

export class ProbewatchError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProbewatchError';
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

export function isProbewatchError(err: unknown, code?: ErrorCode): err is ProbewatchError {
  return err instanceof ProbewatchError && (code === undefined || err.code === code);
}
