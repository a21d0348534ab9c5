import type { RedisOptions } from 'ioredis';
import { readSecret } from '../readSecret.ts';
import type { Config } from './configSchema.ts';
import { tlsOptions } from './tlsOptions.ts';

/** The Redis password's variable (or its `…_FILE`). */
export const REDIS_PASSWORD_ENV = 'PROBEWATCH_REDIS_PASSWORD';
/** Prefix of the Redis TLS file variables (`…_CA_FILE`, `…_CERT_FILE`, `…_KEY_FILE`, `…_KEY_PASSPHRASE`). */
export const REDIS_TLS_ENV = 'PROBEWATCH_REDIS_TLS';

/** ioredis options besides the URL: the password from the environment (or a file), TLS from `redis.tls` or a `rediss://` URL. */
export function redisConnectionOptions(config: Config['redis'], env: Record<string, string | undefined>): RedisOptions {
  const password = readSecret(env, REDIS_PASSWORD_ENV);
  const useTls = config.tls !== undefined || config.url.startsWith('rediss:');
  const tls = useTls ? tlsOptions(config.tls ?? { rejectUnauthorized: true }, 'redis.tls', REDIS_TLS_ENV, env) : undefined;
  return { ...(password ? { password } : {}), ...(tls ? { tls } : {}) };
}
