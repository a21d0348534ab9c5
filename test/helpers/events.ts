import { createHash } from 'node:crypto';
import type { InferenceEvent } from '../../src/contract.ts';

let serial = 0;

/** A valid event with sensible defaults; override what the test is about. */
export function makeEvent(over: Partial<InferenceEvent> = {}): InferenceEvent {
  serial++;
  return {
    event_id: `t-${serial}`,
    ts: 1_767_600_000_000 + serial,
    api_key: 'key-1',
    tenant: null,
    client_ip: null,
    model_id: 'm',
    input_hash: createHash('sha256').update(`input-${serial}`).digest(),
    input_sketch: [],
    output_label: -1,
    output_probs: [],
    status: 200,
    latency_ms: 1,
    enforcement: null,
    ...over,
  };
}

/** `n` events for one key, `gapMs` apart, starting at `start`. */
export function burst(key: string, n: number, start: number, gapMs: number, over: Partial<InferenceEvent> = {}): InferenceEvent[] {
  return Array.from({ length: n }, (_, i) => makeEvent({ api_key: key, ts: start + i * gapMs, ...over }));
}
