import { type KeyObject, createSecretKey } from 'node:crypto';
import { ProbewatchError } from '../errors.ts';
import { readSecret } from '../readSecret.ts';

/** Environment variable the gateway reads its input-hash key from by default. */
export const HMAC_KEY_ENV = 'PROBEWATCH_HMAC_KEY';

/**
 * RFC 2104 §3: keys shorter than the hash output (32 bytes for SHA-256)
 * weaken the MAC, so they are refused.
 */
export const MIN_HMAC_KEY_BYTES = 32;

/**
 * Reads the gateways' shared input-hash key from the environment (the
 * variable, or the file its `…_FILE` variable names) as a
 * `KeyObject`, which never prints its bytes (logs, `util.inspect`, JSON).
 * The value is the key's raw bytes as UTF-8, or `hex:…` / `base64:…`.
 * Every gateway of a deployment must use the same key, so that one input
 * hashes alike wherever it is sent; the key never leaves the gateways.
 * Errors name the variable, never its value.
 */
export function loadHmacKey(env: Record<string, string | undefined>, name = HMAC_KEY_ENV): KeyObject {
  const raw = readSecret(env, name);
  if (raw === undefined) {
    throw new ProbewatchError('PW_CONFIG', `${name} (or ${name}_FILE) is not set: gateways need the shared HMAC key for input hashes`);
  }
  let bytes: Buffer;
  if (raw.startsWith('hex:')) {
    const hex = raw.slice(4);
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) throw new ProbewatchError('PW_CONFIG', `${name}: after "hex:" expected an even number of hex digits`);
    bytes = Buffer.from(hex, 'hex');
  } else if (raw.startsWith('base64:')) {
    bytes = Buffer.from(raw.slice(7), 'base64');
  } else {
    bytes = Buffer.from(raw, 'utf8');
  }
  if (bytes.length < MIN_HMAC_KEY_BYTES) {
    throw new ProbewatchError('PW_CONFIG', `${name}: expected a key of at least ${MIN_HMAC_KEY_BYTES} bytes, got ${bytes.length}`);
  }
  return createSecretKey(bytes);
}
