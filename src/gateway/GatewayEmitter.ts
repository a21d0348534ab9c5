import type { KeyObject } from 'node:crypto';
import type { Counter, Registry } from 'prom-client';
import { AvroEventCodec } from '../codec/AvroEventCodec.ts';
import { validateEvent } from '../codec/validateEvent.ts';
import type { InferenceEvent } from '../contract.ts';
import { ProbewatchError } from '../errors.ts';
import { type InferenceCall, buildEvent } from './buildEvent.ts';
import type { RandomProjection } from './RandomProjection.ts';
import { sdkCounter, sdkGauge } from './sdkMetrics.ts';

/** One Kafka message as the emitter produces it: keyed by api_key, Kafka timestamp = event time. */
export interface EventMessage {
  key: string;
  value: Buffer;
  timestamp: string;
}

/** The part of a Kafka producer the emitter uses; a connected KafkaJS `Producer` satisfies it. */
export interface EventProducer {
  send(record: { topic: string; messages: EventMessage[] }): Promise<unknown>;
}

/** Why an event was not delivered. */
export type DropReason = 'buffer_full' | 'invalid' | 'closed';

export interface GatewayEmitterOptions {
  producer: EventProducer;
  /** Events topic (probewatch config `kafka.topics.events`). */
  topic?: string;
  /** Shared input-hash key (`loadHmacKey(process.env)`); without it inputs are hashed with plain SHA-256. */
  hmacKey?: KeyObject | Buffer | string;
  /** Seeded projection of the features into `input_sketch`; the same seed and width on every gateway. */
  projection?: RandomProjection;
  codec?: AvroEventCodec;
  /** How long the first buffered event waits for company before a send. */
  lingerMs?: number;
  /** Most events per send; a full batch goes out at once. */
  batchSize?: number;
  /** Most events held while Kafka is slow or down; past it events are dropped (and counted). */
  maxBuffered?: number;
  /** When the buffer is full: drop the oldest buffered events (keep the freshest) or refuse the newest. */
  dropPolicy?: 'oldest' | 'newest';
  /** Wait after a failed send, doubling per further failure up to `retryMaxMs`. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  now?: () => number;
  /** Prometheus registry of the gateway, for the emitter's counters. */
  registry?: Registry;
  /** Told about every failed send and every invalid event (never about the HMAC key). */
  onError?: (err: ProbewatchError) => void;
}

/** What the emitter has done so far. */
export interface EmitterStats {
  /** Events accepted into the buffer. */
  accepted: number;
  /** Events acknowledged by Kafka. */
  sent: number;
  dropped: Record<DropReason, number>;
  /** Sends that failed (their events were put back, within the buffer's bound). */
  sendErrors: number;
  /** Events waiting in the buffer now. */
  buffered: number;
}

const DEFAULTS = {
  topic: 'probewatch.events',
  lingerMs: 5,
  batchSize: 500,
  maxBuffered: 20_000,
  dropPolicy: 'oldest',
  retryInitialMs: 100,
  retryMaxMs: 5_000,
} as const;

/**
 * The gateway side of the event contract. `emit` hashes the raw input with
 * the shared HMAC key, projects the features into the sketch, encodes the
 * InferenceEvent as Confluent-framed Avro and buffers it; sends happen in
 * the background in small batches (`lingerMs`, `batchSize`), one at a time
 * so a key's events keep their order. The request path never waits on
 * Kafka: while Kafka is down events wait in a bounded buffer, and past
 * `maxBuffered` they are dropped by `dropPolicy` and counted.
 */
export class GatewayEmitter {
  private readonly producer: EventProducer;
  private readonly topic: string;
  private readonly codec: AvroEventCodec;
  private readonly build: (call: InferenceCall) => InferenceEvent;
  private readonly cfg: Required<Pick<GatewayEmitterOptions, 'lingerMs' | 'batchSize' | 'maxBuffered' | 'dropPolicy' | 'retryInitialMs' | 'retryMaxMs'>>;
  private readonly onError?: (err: ProbewatchError) => void;
  private buffer: EventMessage[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<Error | undefined> | undefined;
  private retryDelayMs = 0;
  private closed = false;
  /** Set when close() has given up: nothing is sent any more. */
  private stopped = false;
  private readonly counts = { accepted: 0, sent: 0, sendErrors: 0, dropped: { buffer_full: 0, invalid: 0, closed: 0 } as Record<DropReason, number> };
  private readonly metrics?: { accepted: Counter; sent: Counter; dropped: Counter<'reason'>; sendErrors: Counter };

  constructor(options: GatewayEmitterOptions) {
    this.producer = options.producer;
    this.topic = options.topic ?? DEFAULTS.topic;
    this.codec = options.codec ?? new AvroEventCodec();
    this.cfg = {
      lingerMs: options.lingerMs ?? DEFAULTS.lingerMs,
      batchSize: Math.max(1, options.batchSize ?? DEFAULTS.batchSize),
      maxBuffered: Math.max(1, options.maxBuffered ?? DEFAULTS.maxBuffered),
      dropPolicy: options.dropPolicy ?? DEFAULTS.dropPolicy,
      retryInitialMs: options.retryInitialMs ?? DEFAULTS.retryInitialMs,
      retryMaxMs: options.retryMaxMs ?? DEFAULTS.retryMaxMs,
    };
    this.onError = options.onError;
    // The key stays inside this closure: it is not a field, so no inspect or serialisation of the emitter shows it.
    const builderOptions = { hmacKey: options.hmacKey, projection: options.projection, now: options.now };
    this.build = (call) => buildEvent(call, builderOptions);
    if (options.registry) {
      const r = options.registry;
      this.metrics = {
        accepted: sdkCounter(r, 'probewatch_gateway_events_accepted_total', 'Inference events accepted by the gateway emitter'),
        sent: sdkCounter(r, 'probewatch_gateway_events_sent_total', 'Inference events acknowledged by Kafka'),
        dropped: sdkCounter(r, 'probewatch_gateway_events_dropped_total', 'Inference events dropped before reaching Kafka', ['reason']),
        sendErrors: sdkCounter(r, 'probewatch_gateway_event_send_errors_total', 'Failed sends of event batches to Kafka'),
      };
      sdkGauge(r, 'probewatch_gateway_events_buffered', 'Inference events waiting in the emitter buffer', () => this.buffer.length);
    }
  }

  /**
   * Turns one inference call into an event and queues it; never waits on
   * Kafka and never throws. Returns whether the event was queued: false
   * when it is invalid (e.g. features of the wrong width, non-finite
   * probabilities), refused by a full buffer (`dropPolicy: 'newest'`) or the
   * emitter is closed; each case is counted.
   */
  emit(call: InferenceCall): boolean {
    if (this.closed) return this.drop('closed', 1);
    let message: EventMessage;
    try {
      const event = validateEvent(this.build(call) as unknown as Record<string, unknown>);
      message = { key: event.api_key, value: this.codec.encode(event), timestamp: String(event.ts) };
    } catch (cause) {
      this.drop('invalid', 1);
      this.report(
        cause instanceof ProbewatchError ? cause : new ProbewatchError('PW_INVALID_EVENT', `cannot build the event: ${(cause as Error).message}`, { cause }),
      );
      return false;
    }
    if (this.buffer.length >= this.cfg.maxBuffered) {
      if (this.cfg.dropPolicy === 'newest') return this.drop('buffer_full', 1);
      this.buffer.shift();
      this.drop('buffer_full', 1);
    }
    this.buffer.push(message);
    this.counts.accepted++;
    this.metrics?.accepted.inc();
    this.schedule();
    return true;
  }

  /**
   * Sends everything buffered now, ignoring the linger and any retry wait;
   * resolves once Kafka acknowledged it all. Rejects with a retriable
   * `PW_SINK` error when a send fails (the events stay buffered).
   */
  async flush(): Promise<void> {
    for (;;) {
      if (this.inFlight) {
        const err = await this.inFlight;
        if (err) throw this.sinkError(err);
        continue;
      }
      if (this.buffer.length === 0) return;
      this.clearTimer();
      const err = await this.sendBatch();
      if (err) throw this.sinkError(err);
    }
  }

  /**
   * Stops accepting events and tries to deliver what is buffered for up to
   * `timeoutMs`; what is still undelivered then is dropped as `closed`.
   * Does not disconnect the producer, which belongs to the caller.
   */
  async close(timeoutMs = 5_000): Promise<EmitterStats> {
    this.closed = true;
    const deadline = performance.now() + timeoutMs;
    let wait = this.cfg.retryInitialMs;
    while (this.buffer.length > 0 || this.inFlight) {
      try {
        await withTimeout(this.flush(), deadline - performance.now());
      } catch {
        const left = deadline - performance.now();
        if (left <= 0) break;
        await new Promise((r) => setTimeout(r, Math.min(wait, left)));
        wait = Math.min(wait * 2, this.cfg.retryMaxMs);
      }
      if (performance.now() >= deadline) break;
    }
    this.stopped = true;
    this.clearTimer();
    if (this.buffer.length > 0) this.drop('closed', this.buffer.splice(0).length);
    return this.stats();
  }

  stats(): EmitterStats {
    return { ...this.counts, dropped: { ...this.counts.dropped }, buffered: this.buffer.length };
  }

  private drop(reason: DropReason, n: number): false {
    this.counts.dropped[reason] += n;
    this.metrics?.dropped.inc({ reason }, n);
    return false;
  }

  private report(err: ProbewatchError): void {
    try {
      this.onError?.(err);
    } catch {
      // A failing error callback must not break the gateway's request path.
    }
  }

  private sinkError(cause: Error): ProbewatchError {
    return new ProbewatchError('PW_SINK', `cannot send events to ${this.topic}: ${cause.message}`, { cause, retriable: true });
  }

  /** Arms the timer for the next send: linger, a full batch at once, or the retry wait after a failure. */
  private schedule(): void {
    if (this.stopped || this.inFlight || this.buffer.length === 0) return;
    const delay = this.retryDelayMs > 0 ? this.retryDelayMs : this.buffer.length >= this.cfg.batchSize ? 0 : this.cfg.lingerMs;
    if (this.timer) {
      if (delay > 0) return;
      this.clearTimer();
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sendBatch();
    }, delay);
    // A gateway exits when it is done; a pending send does not hold it (close() is the orderly way out).
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Sends one batch; resolves with the error of a failed send (never rejects). */
  private sendBatch(): Promise<Error | undefined> {
    const batch = this.buffer.splice(0, this.cfg.batchSize);
    const attempt = (async () => {
      try {
        await this.producer.send({ topic: this.topic, messages: batch });
        this.counts.sent += batch.length;
        this.metrics?.sent.inc(batch.length);
        this.retryDelayMs = 0;
        return undefined;
      } catch (err) {
        this.requeue(batch);
        this.counts.sendErrors++;
        this.metrics?.sendErrors.inc();
        this.retryDelayMs = this.retryDelayMs === 0 ? this.cfg.retryInitialMs : Math.min(this.retryDelayMs * 2, this.cfg.retryMaxMs);
        const error = err instanceof Error ? err : new Error(String(err));
        this.report(this.sinkError(error));
        return error;
      }
    })();
    this.inFlight = attempt;
    void attempt.then(() => {
      if (this.inFlight === attempt) this.inFlight = undefined;
      this.schedule();
    });
    return attempt;
  }

  /** Puts a failed batch back in front of what arrived meanwhile, trimming to the bound by the drop policy. */
  private requeue(batch: EventMessage[]): void {
    if (this.stopped) {
      this.drop('closed', batch.length);
      return;
    }
    this.buffer = batch.concat(this.buffer);
    const over = this.buffer.length - this.cfg.maxBuffered;
    if (over <= 0) return;
    if (this.cfg.dropPolicy === 'oldest') this.buffer.splice(0, over);
    else this.buffer.splice(this.cfg.maxBuffered, over);
    this.drop('buffer_full', over);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  // When the timer wins, `p` may still reject later: that must not surface as an unhandled rejection.
  p.catch(() => {});
  if (ms <= 0) return Promise.reject(new Error('timed out'));
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), ms);
    }),
  ]);
}
