import { type KeyObject, createHash, createHmac, randomUUID } from 'node:crypto';
import type { InferenceEvent } from '../contract.ts';
import type { RandomProjection } from './RandomProjection.ts';

/** What a gateway knows about one inference call. Raw input stays here. */
export interface InferenceCall {
  apiKey: string;
  modelId: string;
  /** The canonical input bytes; only their keyed hash leaves the gateway. */
  input: Buffer | string;
  /** Numeric features of the input, projected into the sketch. */
  features?: ArrayLike<number>;
  probs?: ArrayLike<number>;
  label?: number;
  tenant?: string | null;
  clientIp?: string | null;
  status?: number;
  latencyMs?: number;
  enforcement?: string | null;
  /**
   * What the model itself answered. Sent beside the answer returned only
   * when `answersAltered` says the gateway changed it (an answered call at
   * truncate or deceive), so that probewatch keeps measuring the key's
   * queries against the model while a response is in force; the client
   * never sees it.
   */
  model?: { probs?: ArrayLike<number>; label?: number };
  ts?: number;
  eventId?: string;
}

export interface EventBuilderOptions {
  /** HMAC key (from the environment, never a file; see `loadHmacKey`); without one, plain SHA-256. */
  hmacKey?: KeyObject | Buffer | string;
  projection?: RandomProjection;
  now?: () => number;
}

/** The keyed hash of the input bytes: HMAC-SHA256 with a key, else SHA-256. */
export function hashInput(input: Buffer | string, hmacKey?: KeyObject | Buffer | string): Buffer {
  return hmacKey ? createHmac('sha256', hmacKey).update(input).digest() : createHash('sha256').update(input).digest();
}

function argmax(p: ArrayLike<number>): number {
  let best = -1;
  for (let i = 0; i < p.length; i++) if (best < 0 || p[i] > p[best]) best = i;
  return best;
}

/** Whether a call answered (2xx) at `enforcement` got an answer other than the model's: the levels that rewrite answers. */
export function answersAltered(status: number, enforcement: string | null | undefined): boolean {
  return status >= 200 && status < 300 && (enforcement === 'truncate' || enforcement === 'deceive');
}

/** Turns one inference call into the InferenceEvent the gateway emits. */
export function buildEvent(call: InferenceCall, options: EventBuilderOptions = {}): InferenceEvent {
  const probs = call.probs ? Array.from(call.probs, (v) => Math.fround(v)) : [];
  const event: InferenceEvent = {
    event_id: call.eventId ?? randomUUID(),
    ts: call.ts ?? (options.now ?? Date.now)(),
    api_key: call.apiKey,
    tenant: call.tenant ?? null,
    client_ip: call.clientIp ?? null,
    model_id: call.modelId,
    input_hash: hashInput(call.input, options.hmacKey),
    input_sketch: call.features && options.projection ? options.projection.project(call.features) : [],
    output_label: call.label ?? argmax(probs),
    output_probs: probs,
    status: call.status ?? 200,
    latency_ms: Math.fround(call.latencyMs ?? 0),
    enforcement: call.enforcement ?? null,
  };
  if (call.model && answersAltered(event.status, event.enforcement)) {
    const modelProbs = call.model.probs ? Array.from(call.model.probs, (v) => Math.fround(v)) : [];
    event.model_label = call.model.label ?? argmax(modelProbs);
    event.model_probs = modelProbs;
  }
  return event;
}
