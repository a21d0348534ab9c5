import { type Admin, Kafka, type LogEntry, type SASLOptions, logLevel } from 'kafkajs';
import type { Config } from '../config/configSchema.ts';
import type { ConnectionOptions } from 'node:tls';
import { tlsOptions } from '../config/tlsOptions.ts';
import { readSecret } from '../readSecret.ts';
import { ProbewatchError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { PartitionOffsets } from './OffsetGapWatch.ts';

/** Environment variables (or their `…_FILE` variants) holding the SASL credentials; they never come from the config file. */
export const KAFKA_USERNAME_ENV = 'PROBEWATCH_KAFKA_USERNAME';
export const KAFKA_PASSWORD_ENV = 'PROBEWATCH_KAFKA_PASSWORD';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** KafkaJS's own logs, as pino JSON lines on the service logger. */
function kafkaLogCreator(logger: Logger, quiet?: () => boolean) {
  // The service logger itself, not a child: a child keeps the level it was made with, and a reload may change it.
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, timestamp: _ts, logger: _name, ...extra } = log as LogEntry['log'] & { timestamp?: string; logger?: string };
      // While quiet (start-up), connection retries go to debug: if they all fail, the caller reports it in one line.
      const pinoLevel = quiet?.() && level <= logLevel.WARN ? 'debug' : (LEVELS[level] ?? 'info');
      logger[pinoLevel]({ component: 'kafkajs', namespace, ...extra }, message);
    };
}

function sasl(config: Config['kafka'], env: Record<string, string | undefined>): SASLOptions | undefined {
  if (config.sasl === 'none') return undefined;
  const username = readSecret(env, KAFKA_USERNAME_ENV);
  const password = readSecret(env, KAFKA_PASSWORD_ENV);
  if (!username || !password) {
    throw new ProbewatchError('PW_CONFIG', `kafka.sasl is '${config.sasl}': set ${KAFKA_USERNAME_ENV} and ${KAFKA_PASSWORD_ENV} (or ${KAFKA_USERNAME_ENV}_FILE and ${KAFKA_PASSWORD_ENV}_FILE) in the environment`);
  }
  return { mechanism: config.sasl, username, password } as SASLOptions;
}

/** Environment prefix of the TLS file variables (`…_CA_FILE`, `…_CERT_FILE`, `…_KEY_FILE`, `…_KEY_PASSPHRASE`). */
export const KAFKA_SSL_ENV = 'PROBEWATCH_KAFKA_SSL';

function ssl(config: Config['kafka'], env: Record<string, string | undefined>): boolean | ConnectionOptions {
  const fromEnv = ['CA', 'CERT', 'KEY'].some((f) => env[`${KAFKA_SSL_ENV}_${f}_FILE`]);
  if (config.ssl === false && !fromEnv) return false;
  const files = typeof config.ssl === 'object' ? config.ssl : { rejectUnauthorized: true };
  const options = tlsOptions(files, 'kafka.ssl', KAFKA_SSL_ENV, env);
  return Object.keys(options).length === 1 && config.ssl === true ? true : options;
}

/** The KafkaJS client for `probewatch run`: brokers and TLS from config, SASL credentials from the environment only. */
export function createKafka(config: Config['kafka'], env: Record<string, string | undefined>, logger: Logger, quiet?: () => boolean): Kafka {
  return new Kafka({
    clientId: config.clientId,
    brokers: [...config.brokers],
    ssl: ssl(config, env),
    sasl: sasl(config, env),
    logLevel: logger.isLevelEnabled('debug') ? logLevel.DEBUG : logLevel.INFO,
    logCreator: kafkaLogCreator(logger, quiet),
  });
}

/** Committed offsets and log starts through a connected KafkaJS admin client (for `OffsetGapWatch`). */
export function adminPartitionOffsets(admin: Admin, groupId: string): PartitionOffsets {
  return {
    async committed(topic) {
      const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return new Map((t?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    },
    async lowWatermarks(topic) {
      return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.low)]));
    },
  };
}
