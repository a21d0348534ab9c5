import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs on stderr (stdout belongs to replay's output). Anything that
 * looks like a secret is redacted, whatever path it is logged under.
 */
export function createLogger(level = 'info', destination: number = 2): Logger {
  return pino(
    {
      level,
      base: { service: 'probewatch' },
      redact: {
        paths: ['password', 'secret', 'hmacKey', '*.password', '*.secret', '*.hmacKey', 'sasl', '*.sasl', 'redisUrl'],
        censor: '[redacted]',
      },
    },
    pino.destination({ fd: destination, sync: true }),
  );
}

/** A logger that drops everything, for unit tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
