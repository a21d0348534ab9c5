import type { Config } from '../config/configSchema.ts';
import { ProbewatchError } from '../errors.ts';
import { KAFKA_PASSWORD_ENV, KAFKA_USERNAME_ENV } from '../pipeline/kafkaClient.ts';

/** What `probewatch run` was starting when it failed. */
export type StartStep = 'http' | 'redis' | 'kafka';

/**
 * One line for an operator when `probewatch run` cannot start: what could
 * not be reached, the underlying reason, and the setting (config key and
 * environment variable) that points there. No stack: a wrong address is
 * not a bug.
 */
export function startFailure(step: StartStep, err: unknown, config: Readonly<Config>): ProbewatchError {
  const reason = rootMessage(err);
  let message: string;
  if (step === 'http') {
    message = `cannot serve /metrics on ${config.http.host}:${config.http.port}: ${reason} (set http.port in the config file or PROBEWATCH_HTTP_PORT)`;
  } else if (step === 'redis') {
    message = `cannot connect to Redis at ${withoutPassword(config.redis.url)}: ${reason} (set redis.url in the config file or PROBEWATCH_REDIS_URL)`;
  } else if (inChain(err, 'KafkaJSSASLAuthenticationError')) {
    message = `Kafka at ${config.kafka.brokers.join(',')} refused the SASL login: ${reason} (kafka.sasl; credentials from ${KAFKA_USERNAME_ENV} and ${KAFKA_PASSWORD_ENV})`;
  } else {
    message = `cannot connect to Kafka at ${config.kafka.brokers.join(',')}: ${reason} (set kafka.brokers in the config file or PROBEWATCH_KAFKA_BROKERS)`;
  }
  return new ProbewatchError('PW_UNREACHABLE', message, { cause: err });
}

type Chained = { name?: string; message?: string; cause?: unknown };

/** The innermost cause's message: KafkaJS wraps "connect ECONNREFUSED" in a retries-exceeded error that repeats it. */
function rootMessage(err: unknown): string {
  let e = err as Chained | undefined;
  for (let depth = 0; e?.cause && depth < 8; depth++) e = e.cause as Chained;
  return (e?.message ?? String(err)).replace(/\s+/g, ' ');
}

function inChain(err: unknown, name: string): boolean {
  for (let e = err as Chained | undefined, depth = 0; e && depth < 8; e = e.cause as Chained | undefined, depth++) if (e.name === name) return true;
  return false;
}

function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}
