import { type KeyObject, createHmac, createSecretKey, hkdfSync } from 'node:crypto';
import { ProbewatchError } from '../errors.ts';
import { MIN_HMAC_KEY_BYTES } from './hmacKey.ts';

/**
 * HKDF `info` (RFC 5869 §3.2): binds the derived key to sketches alone. The
 * deployment key itself also MACs input bytes that clients choose (the input
 * hash), so a stream keyed by it directly could be read back from events.
 */
const SKETCH_KEY_INFO = 'probewatch.v1 input-sketch projection';

/** 2⁻⁵³: a draw keeps the 53 bits a double holds exactly. */
const TWO_POW_MINUS_53 = 1 / 9_007_199_254_740_992;

function keyBytes(key: KeyObject | Buffer | string): number {
  if (typeof key === 'string') return Buffer.byteLength(key, 'utf8');
  if (Buffer.isBuffer(key)) return key.length;
  return key.symmetricKeySize ?? 0;
}

/**
 * Uniform draws in [0, 1) that only holders of `key` can reproduce: block
 * n is HMAC-SHA256(subkey, context ‖ n as 64-bit big-endian), the subkey
 * derived from `key` with HKDF-SHA256, and each block gives four 53-bit
 * draws. The stream carries the key's full strength (no short seed to
 * search), and `context` separates streams drawn under one key, so each use
 * gets its own. Keys shorter than `MIN_HMAC_KEY_BYTES` are refused; the
 * error never shows the key.
 */
export function keyedUniforms(key: KeyObject | Buffer | string, context: Uint8Array): () => number {
  const size = keyBytes(key);
  if (size < MIN_HMAC_KEY_BYTES) {
    throw new ProbewatchError('PW_CONFIG', `the sketch key must be at least ${MIN_HMAC_KEY_BYTES} bytes, got ${size}`);
  }
  const derived = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), SKETCH_KEY_INFO, 32));
  const subkey = createSecretKey(derived);
  derived.fill(0);
  const message = Buffer.alloc(context.length + 8);
  message.set(context, 0);
  let counter = 0n;
  let block = Buffer.alloc(0);
  let offset = 0;
  return () => {
    if (offset === block.length) {
      message.writeBigUInt64BE(counter++, context.length);
      block = createHmac('sha256', subkey).update(message).digest();
      offset = 0;
    }
    const high = block.readUInt32BE(offset) >>> 5; // 27 bits
    const low = block.readUInt32BE(offset + 4) >>> 6; // 26 bits
    offset += 8;
    return (high * 67_108_864 + low) * TWO_POW_MINUS_53;
  };
}
