import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Paths redacted wherever they appear: secrets never reach the logs. */
const REDACT = ['password', 'secret', 'hmacKey', 'sasl', 'authorization', 'token', 'passphrase', 'signingKey', '*.password', '*.secret', '*.hmacKey', '*.sasl', '*.authorization', '*.token', '*.passphrase', '*.signingKey'];

/**
 * JSON logs, by default on stderr (stdout belongs to replay's output).
 * Anything that looks like a secret is redacted.
 */
export function createLogger(level = 'info', destination: DestinationStream = pino.destination({ fd: 2, sync: true })): Logger {
  return pino({ level, base: { service: 'probewatch' }, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}

/** A logger that drops everything, for unit tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
