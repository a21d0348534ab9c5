import { type Admin, Kafka, type LogEntry, type SASLOptions, logLevel } from 'kafkajs';
import type { Config } from '../config/configSchema.ts';
import { ProbewatchError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { PartitionOffsets } from './OffsetGapWatch.ts';

/** Environment variables holding the SASL credentials; they never come from the config file. */
export const KAFKA_USERNAME_ENV = 'PROBEWATCH_KAFKA_USERNAME';
export const KAFKA_PASSWORD_ENV = 'PROBEWATCH_KAFKA_PASSWORD';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** KafkaJS's own logs, as pino JSON lines on the service logger. */
function kafkaLogCreator(logger: Logger) {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, timestamp: _ts, logger: _name, ...extra } = log as LogEntry['log'] & { timestamp?: string; logger?: string };
      child[LEVELS[level] ?? 'info']({ namespace, ...extra }, message);
    };
}

function sasl(config: Config['kafka'], env: Record<string, string | undefined>): SASLOptions | undefined {
  if (config.sasl === 'none') return undefined;
  const username = env[KAFKA_USERNAME_ENV];
  const password = env[KAFKA_PASSWORD_ENV];
  if (!username || !password) {
    throw new ProbewatchError('PW_CONFIG', `kafka.sasl is '${config.sasl}': set ${KAFKA_USERNAME_ENV} and ${KAFKA_PASSWORD_ENV} in the environment`);
  }
  return { mechanism: config.sasl, username, password } as SASLOptions;
}

/** The KafkaJS client for `probewatch run`: brokers and TLS from config, SASL credentials from the environment only. */
export function createKafka(config: Config['kafka'], env: Record<string, string | undefined>, logger: Logger): Kafka {
  return new Kafka({
    clientId: config.clientId,
    brokers: [...config.brokers],
    ssl: config.ssl,
    sasl: sasl(config, env),
    logLevel: logger.isLevelEnabled('debug') ? logLevel.DEBUG : logLevel.INFO,
    logCreator: kafkaLogCreator(logger),
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
