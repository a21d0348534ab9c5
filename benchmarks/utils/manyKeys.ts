import { randomBytes } from 'node:crypto';
import type { InferenceEvent } from '../../src/contract.ts';
import { mulberry32 } from '../../src/gateway/RandomProjection.ts';

/** Event time of the first generated event. */
export const MANY_KEYS_T0 = Date.UTC(2026, 0, 5, 8);
const T0 = MANY_KEYS_T0;

/** A small deterministic PRNG: the SDK's mulberry32. */
const rng = mulberry32;

/**
 * Events of `keys` keys in event-time order, 1–3 per key, each from a new
 * client address (so per-IP and per-prefix state grows with every event
 * unless capped), tenants and models spread over the keys.
 */
export function* generateManyKeys(keys: number, seed: number, prefix = 'k'): Generator<InferenceEvent> {
  const r = rng(seed);
  for (let k = 0; k < keys; k++) {
    const n = 1 + Math.floor(r() * 3);
    for (let j = 0; j < n; j++) {
      const probs = Array.from({ length: 10 }, () => r() + 0.01);
      const sum = probs.reduce((a, b) => a + b, 0);
      for (let c = 0; c < probs.length; c++) probs[c] = Math.fround(probs[c] / sum);
      const label = probs.indexOf(Math.max(...probs));
      const ip = `${1 + Math.floor(r() * 222)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}`;
      yield {
        event_id: `${prefix}${k}-${j}`,
        ts: T0 + k * 40 + j * 7,
        api_key: `${prefix}${k}`,
        tenant: `t${k % 20_000}`,
        client_ip: ip,
        model_id: `m${k % 3}`,
        input_hash: randomBytes(32),
        input_sketch: Array.from({ length: 16 }, () => Math.fround(r() * 2 - 1)),
        output_label: label,
        output_probs: probs,
        status: 200,
        latency_ms: 5,
        enforcement: null,
      };
    }
  }
}

