import { type KeyObject, createHash, createHmac } from 'node:crypto';
import { mulberry32 } from '../RandomProjection.ts';

/** What a per-query random stream is for; each purpose draws independently. */
export type RandomPurpose = 'noise' | 'watermark' | 'misinformation';

/**
 * A random stream fixed by (purpose, API key, input hash): HMAC-SHA256 under
 * the gateway's secret, seeding mulberry32. The same key asking the same
 * input gets the same draws (so repeating a query and averaging the answers
 * removes nothing), another key or input gets unrelated ones, and without
 * the secret nobody can predict them. Without a secret it falls back to
 * SHA-256: still deterministic, but predictable by whoever knows the scheme.
 */
export function queryRandom(secret: KeyObject | Buffer | undefined, purpose: RandomPurpose, apiKey: string, inputHash: Buffer): () => number {
  const key = Buffer.from(apiKey, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(key.length);
  const mac = secret ? createHmac('sha256', secret) : createHash('sha256');
  // Length-prefixed, so no (apiKey, inputHash) pair can be spelled as another.
  const digest = mac.update(`probewatch-${purpose}\0`).update(length).update(key).update(inputHash).digest();
  return mulberry32(digest.readUInt32BE(0) ^ digest.readUInt32BE(4));
}

/** A standard normal draw from a uniform stream (Box–Muller). */
export function normalDraw(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}
