import type { InferenceEvent } from '../contract.ts';
import { ProbewatchError } from '../errors.ts';

const MAX_VECTOR = 4096;

function fail(message: string): never {
  throw new ProbewatchError('PW_INVALID_EVENT', message);
}

function finiteVector(name: string, v: unknown): number[] {
  if (!Array.isArray(v)) fail(`${name} must be an array of numbers`);
  if (v.length > MAX_VECTOR) fail(`${name} has ${v.length} entries, more than ${MAX_VECTOR}`);
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'number' || !Number.isFinite(v[i])) fail(`${name}[${i}] is not a finite number`);
  }
  return v as number[];
}

function nullableString(name: string, v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') fail(`${name} must be a string or null`);
  return v;
}

/**
 * Checks a decoded event against the contract beyond what Avro types enforce
 * (non-empty ids, finite numbers, a 32-byte hash) and returns it typed.
 */
export function validateEvent(e: Record<string, unknown>): InferenceEvent {
  if (typeof e.event_id !== 'string' || e.event_id.length === 0) fail('event_id must be a non-empty string');
  if (typeof e.api_key !== 'string' || e.api_key.length === 0) fail('api_key must be a non-empty string');
  if (typeof e.model_id !== 'string') fail('model_id must be a string');
  if (typeof e.ts !== 'number' || !Number.isSafeInteger(e.ts) || e.ts < 0) fail('ts must be a non-negative integer of epoch milliseconds');
  if (!Buffer.isBuffer(e.input_hash) || e.input_hash.length !== 32) fail('input_hash must be 32 bytes');
  const label = e.output_label ?? -1;
  if (typeof label !== 'number' || !Number.isInteger(label) || label < -1) fail('output_label must be an integer >= -1');
  const status = e.status ?? 200;
  if (typeof status !== 'number' || !Number.isInteger(status)) fail('status must be an integer');
  const latency = e.latency_ms ?? 0;
  if (typeof latency !== 'number' || !Number.isFinite(latency)) fail('latency_ms must be a finite number');
  return {
    event_id: e.event_id,
    ts: e.ts,
    api_key: e.api_key,
    tenant: nullableString('tenant', e.tenant),
    client_ip: nullableString('client_ip', e.client_ip),
    model_id: e.model_id,
    input_hash: e.input_hash,
    input_sketch: finiteVector('input_sketch', e.input_sketch ?? []),
    output_label: label,
    output_probs: finiteVector('output_probs', e.output_probs ?? []),
    status,
    latency_ms: latency,
    enforcement: nullableString('enforcement', e.enforcement),
  };
}
