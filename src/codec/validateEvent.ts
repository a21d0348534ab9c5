import type { InferenceEvent } from '../contract.ts';
import { type InvalidEventReason, ProbewatchError } from '../errors.ts';

/** What a single event may hold (config `input`); the stateful limits (lateness, fixed shapes) are `EventGate`'s. */
export interface EventLimits {
  maxEventIdLength: number;
  maxApiKeyLength: number;
  maxModelIdLength: number;
  maxTenantLength: number;
  maxClientIpLength: number;
  maxEnforcementLength: number;
  maxSketchWidth: number;
  maxClasses: number;
  /** |Σ probs − 1| allowed (float32 rounding); events the gateway truncated by rounding get 0.05 per class on top. */
  probsTolerance: number;
  statusMin: number;
  statusMax: number;
}

/** The defaults of config `input` (kept in one place with configSchema's). */
export const DEFAULT_EVENT_LIMITS: Readonly<EventLimits> = Object.freeze({
  maxEventIdLength: 128,
  maxApiKeyLength: 256,
  maxModelIdLength: 256,
  maxTenantLength: 256,
  maxClientIpLength: 64,
  maxEnforcementLength: 32,
  maxSketchWidth: 256,
  maxClasses: 1024,
  probsTolerance: 0.01,
  statusMin: 100,
  statusMax: 599,
});

/** Each probability of a vector rounded to one decimal can be off by up to 0.05. */
const ROUNDING_SLACK_PER_CLASS = 0.05;

function fail(reason: InvalidEventReason, message: string): never {
  throw new ProbewatchError('PW_INVALID_EVENT', message, { reason });
}

function boundedString(name: string, v: unknown, max: number, required: boolean): string | null {
  if (v === null || v === undefined) {
    if (required) fail('missing_field', `${name} is required`);
    return null;
  }
  if (typeof v !== 'string') fail('wrong_type', `${name} must be a string${required ? '' : ' or null'}`);
  if (required && v.length === 0) fail('missing_field', `${name} must be a non-empty string`);
  if (v.length > max) fail('string_too_long', `${name} has ${v.length} characters, more than ${max}`);
  return v;
}

function finiteVector(name: string, v: unknown, max: number): number[] {
  if (!Array.isArray(v)) fail('wrong_type', `${name} must be an array of numbers`);
  if (v.length > max) fail('vector_too_long', `${name} has ${v.length} entries, more than ${max}`);
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'number') fail('wrong_type', `${name}[${i}] is not a number`);
    if (!Number.isFinite(v[i])) fail('not_finite', `${name}[${i}] is not a finite number`);
  }
  return v as number[];
}

/** `rounded`: the vector is one a gateway truncated by rounding (each probability may be off by 0.05). */
function checkProbs(name: string, probs: readonly number[], rounded: boolean, tolerance: number): void {
  if (probs.length === 0) return;
  let sum = 0;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] < 0 || probs[i] > 1) fail('probs_range', `${name}[${i}] is ${probs[i]}, outside [0, 1]`);
    sum += probs[i];
  }
  const allowed = tolerance + (rounded ? ROUNDING_SLACK_PER_CLASS * probs.length : 0);
  if (Math.abs(sum - 1) > allowed) fail('probs_sum', `${name} sum to ${sum}, not 1 within ${allowed}`);
}

function checkLabel(name: string, v: unknown, probs: readonly number[], probsName: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail('wrong_type', `${name} must be an integer`);
  if (v < -1) fail('label_range', `${name} is ${v}, below -1`);
  if (probs.length > 0 && v >= probs.length) fail('label_range', `${name} is ${v}, not one of the ${probs.length} classes of ${probsName}`);
  return v;
}

/**
 * Checks a decoded event against the contract beyond what Avro types enforce
 * (non-empty ids, bounded strings and vectors, finite numbers, a 32-byte
 * hash, probabilities that form a distribution, a status in range) and
 * returns it typed. Every refusal is a `PW_INVALID_EVENT` with a reason.
 */
export function validateEvent(e: Record<string, unknown>, limits: Readonly<EventLimits> = DEFAULT_EVENT_LIMITS): InferenceEvent {
  const eventId = boundedString('event_id', e.event_id, limits.maxEventIdLength, true)!;
  const apiKey = boundedString('api_key', e.api_key, limits.maxApiKeyLength, true)!;
  if (typeof e.model_id !== 'string') fail(e.model_id === undefined || e.model_id === null ? 'missing_field' : 'wrong_type', 'model_id must be a string');
  const modelId = boundedString('model_id', e.model_id, limits.maxModelIdLength, false)!;
  if (typeof e.ts !== 'number' || !Number.isSafeInteger(e.ts) || e.ts < 0) fail('ts_range', 'ts must be a non-negative integer of epoch milliseconds');
  if (!Buffer.isBuffer(e.input_hash) || e.input_hash.length !== 32) fail('bad_hash', 'input_hash must be 32 bytes');
  const tenant = boundedString('tenant', e.tenant, limits.maxTenantLength, false);
  const clientIp = boundedString('client_ip', e.client_ip, limits.maxClientIpLength, false);
  const enforcement = boundedString('enforcement', e.enforcement, limits.maxEnforcementLength, false);
  const sketch = finiteVector('input_sketch', e.input_sketch ?? [], limits.maxSketchWidth);
  const probs = finiteVector('output_probs', e.output_probs ?? [], limits.maxClasses);
  // A gateway that truncates by rounding reports the rounded vector it returned.
  checkProbs('output_probs', probs, enforcement === 'truncate', limits.probsTolerance);
  const label = checkLabel('output_label', e.output_label ?? -1, probs, 'output_probs');
  const modelProbs = finiteVector('model_probs', e.model_probs ?? [], limits.maxClasses);
  checkProbs('model_probs', modelProbs, false, limits.probsTolerance);
  const modelLabel = e.model_label === undefined || e.model_label === null ? null : checkLabel('model_label', e.model_label, modelProbs, 'model_probs');
  if (modelLabel === null && modelProbs.length > 0) fail('missing_field', 'model_probs needs model_label (the model\'s own top-1)');
  if (modelProbs.length > 0 && probs.length > 0 && modelProbs.length !== probs.length) {
    fail('classes_changed', `model_probs has ${modelProbs.length} classes, output_probs ${probs.length}`);
  }
  const status = e.status ?? 200;
  if (typeof status !== 'number' || !Number.isInteger(status)) fail('wrong_type', 'status must be an integer');
  if (status < limits.statusMin || status > limits.statusMax) fail('status_range', `status is ${status}, outside ${limits.statusMin}..${limits.statusMax}`);
  const latency = e.latency_ms ?? 0;
  if (typeof latency !== 'number') fail('wrong_type', 'latency_ms must be a number');
  if (!Number.isFinite(latency)) fail('not_finite', 'latency_ms must be a finite number');
  if (latency < 0) fail('latency_range', `latency_ms is ${latency}, below 0`);
  const event: InferenceEvent = {
    event_id: eventId,
    ts: e.ts,
    api_key: apiKey,
    tenant,
    client_ip: clientIp,
    model_id: modelId,
    input_hash: e.input_hash,
    input_sketch: sketch,
    output_label: label,
    output_probs: probs,
    status,
    latency_ms: latency,
    enforcement,
  };
  // Only events that carry the model's own answer have the fields, so the common event keeps one shape.
  if (modelLabel !== null) {
    event.model_label = modelLabel;
    event.model_probs = modelProbs;
  }
  return event;
}
