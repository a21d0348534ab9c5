import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { ProbewatchError } from '../errors.ts';
import { readSecret } from '../readSecret.ts';

/** The PEM file settings of `kafka.ssl` / `redis.tls`. */
export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
  rejectUnauthorized: boolean;
}

/**
 * Node TLS options from PEM files: each path from the config section or from
 * `${envPrefix}_CA_FILE`, `_CERT_FILE`, `_KEY_FILE` (the environment wins),
 * the key's passphrase from `${envPrefix}_KEY_PASSPHRASE` or its `_FILE`.
 * Read once at start; errors name the setting and the path, never contents.
 */
export function tlsOptions(files: TlsFiles, section: string, envPrefix: string, env: Record<string, string | undefined>): ConnectionOptions {
  const read = (field: 'ca' | 'cert' | 'key'): Buffer | undefined => {
    const fromEnv = env[`${envPrefix}_${field.toUpperCase()}_FILE`];
    const path = fromEnv || files[field];
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (cause) {
      const where = fromEnv ? `${envPrefix}_${field.toUpperCase()}_FILE` : `${section}.${field}`;
      throw new ProbewatchError('PW_CONFIG', `${where}: cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
    }
  };
  const ca = read('ca');
  const cert = read('cert');
  const key = read('key');
  if ((cert === undefined) !== (key === undefined)) {
    throw new ProbewatchError('PW_CONFIG', `${section}: a client certificate needs its key and the key its certificate (cert and key go together)`);
  }
  const passphrase = readSecret(env, `${envPrefix}_KEY_PASSPHRASE`);
  return {
    ...(ca ? { ca: [ca] } : {}),
    ...(cert ? { cert, key } : {}),
    ...(passphrase ? { passphrase } : {}),
    ...(files.servername ? { servername: files.servername } : {}),
    rejectUnauthorized: files.rejectUnauthorized,
  };
}
