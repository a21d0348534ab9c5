import { createHmac } from 'node:crypto';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AvroEventCodec } from '../../src/codec/AvroEventCodec.ts';
import { type ProbewatchError, isProbewatchError } from '../../src/errors.ts';
import { type EventMessage, type EventProducer, GatewayEmitter } from '../../src/gateway/GatewayEmitter.ts';
import { InMemoryEventProducer } from '../../src/gateway/InMemoryEventProducer.ts';
import { RandomProjection } from '../../src/gateway/RandomProjection.ts';
import { InMemoryTopic } from '../../src/sources/InMemoryTopic.ts';

const HMAC_KEY = Buffer.alloc(32, 7);
const codec = new AvroEventCodec();

/** In-memory transport whose sends can be held (Kafka slow) or refused (Kafka down). */
class Transport implements EventProducer {
  readonly topic = new InMemoryTopic('events');
  readonly sends: number[] = [];
  down = false;
  private held: Promise<void> | undefined;
  private release: (() => void) | undefined;
  private readonly inner = new InMemoryEventProducer([this.topic]);

  hold(): void {
    this.held = new Promise((r) => (this.release = r));
  }

  unhold(): void {
    this.release?.();
    this.held = undefined;
  }

  async send(record: { topic: string; messages: EventMessage[] }): Promise<void> {
    this.sends.push(record.messages.length);
    if (this.held) await this.held;
    if (this.down) throw new Error('broker unreachable');
    await this.inner.send(record);
  }

  events() {
    return this.topic.poll(Number.MAX_SAFE_INTEGER).map((m) => ({ key: m.key, event: codec.decode(m.value) }));
  }
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setImmediate(r));
}

const call = (i: number, apiKey = 'key-a') => ({ apiKey, modelId: 'm', input: `input-${i}`, probs: [0.2, 0.8], eventId: `e-${i}`, ts: 1_767_600_000_000 + i });

describe('GatewayEmitter', () => {
  it('produces Confluent-framed Avro InferenceEvents keyed by api_key, with the keyed hash and the sketch', async () => {
    const transport = new Transport();
    const projection = new RandomProjection(6, 4, 99);
    const emitter = new GatewayEmitter({ producer: transport, topic: 'events', hmacKey: HMAC_KEY, projection });
    const features = [0.5, -1, 2, 0, 3.25, 1e-3];
    const input = Buffer.from('raw request body');
    expect(
      emitter.emit({ apiKey: 'key-7', modelId: 'resnet', input, features, probs: [0.1, 0.7, 0.2], tenant: 'acme', clientIp: '192.0.2.1', latencyMs: 12.5, ts: 1_767_600_000_123 }),
    ).toBe(true);
    await emitter.flush();

    const [{ key, event }] = transport.events();
    const raw = transport.topic.poll(1)[0].value;
    expect(raw[0]).toBe(0);
    expect(raw.readUInt32BE(1)).toBe(codec.writerId);
    expect(key).toBe('key-7');
    expect(event.api_key).toBe('key-7');
    expect(event.model_id).toBe('resnet');
    expect(event.ts).toBe(1_767_600_000_123);
    expect(event.input_hash).toEqual(createHmac('sha256', HMAC_KEY).update(input).digest());
    expect(event.input_sketch).toEqual(projection.project(features));
    expect(event.output_probs).toEqual([0.1, 0.7, 0.2].map(Math.fround));
    expect(event.output_label).toBe(1);
    expect(event.tenant).toBe('acme');
    expect(event.client_ip).toBe('192.0.2.1');
    expect(event.latency_ms).toBe(12.5);
    expect(event.status).toBe(200);
    expect(event.event_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(emitter.stats()).toMatchObject({ accepted: 1, sent: 1, buffered: 0, sendErrors: 0 });
  });

  it('batches in the background: a full batch goes at once, the rest after the linger, in order', async () => {
    const transport = new Transport();
    const emitter = new GatewayEmitter({ producer: transport, topic: 'events', batchSize: 3, lingerMs: 60_000 });
    for (let i = 0; i < 7; i++) emitter.emit(call(i));
    expect(transport.sends).toEqual([]); // emit returned before any send
    await until(() => emitter.stats().sent === 6);
    expect(transport.sends).toEqual([3, 3]);
    expect(emitter.stats().buffered).toBe(1); // waits for the (long) linger
    await emitter.flush();
    expect(transport.events().map((e) => e.event.event_id)).toEqual(Array.from({ length: 7 }, (_, i) => `e-${i}`));
  });

  it('sends after the linger without a flush', async () => {
    const transport = new Transport();
    const emitter = new GatewayEmitter({ producer: transport, topic: 'events', lingerMs: 2 });
    emitter.emit(call(1));
    emitter.emit(call(2));
    await until(() => emitter.stats().sent === 2);
    expect(transport.sends).toEqual([2]);
  });

  it('never waits on a slow Kafka; past the bound it drops the oldest events and counts them', async () => {
    const transport = new Transport();
    transport.hold();
    const emitter = new GatewayEmitter({ producer: transport, topic: 'events', maxBuffered: 10, lingerMs: 0 });
    emitter.emit(call(0));
    await until(() => transport.sends.length === 1); // event 0 is in flight, held
    for (let i = 1; i <= 15; i++) expect(emitter.emit(call(i))).toBe(true);
    expect(emitter.stats()).toMatchObject({ accepted: 16, buffered: 10, dropped: { buffer_full: 5, invalid: 0, closed: 0 } });
    transport.unhold();
    await emitter.flush();
    expect(transport.events().map((e) => e.event.event_id)).toEqual(['e-0', ...Array.from({ length: 10 }, (_, i) => `e-${i + 6}`)]);
  });

  it("with dropPolicy 'newest' refuses new events while the buffer is full", async () => {
    const transport = new Transport();
    transport.hold();
    const emitter = new GatewayEmitter({ producer: transport, topic: 'events', maxBuffered: 4, lingerMs: 0, dropPolicy: 'newest' });
    emitter.emit(call(0));
    await until(() => transport.sends.length === 1);
    const accepted = Array.from({ length: 6 }, (_, i) => emitter.emit(call(i + 1)));
    expect(accepted).toEqual([true, true, true, true, false, false]);
    expect(emitter.stats().dropped.buffer_full).toBe(2);
    transport.unhold();
    await emitter.flush();
    expect(transport.events().map((e) => e.event.event_id)).toEqual(['e-0', 'e-1', 'e-2', 'e-3', 'e-4']);
  });

  it('keeps events while Kafka is down and delivers them, in order, once it is back', async () => {
    const transport = new Transport();
    transport.down = true;
    const errors: ProbewatchError[] = [];
    const emitter = new GatewayEmitter({ producer: transport, topic: 'events', lingerMs: 0, retryInitialMs: 5, retryMaxMs: 20, onError: (e) => errors.push(e) });
    for (let i = 0; i < 5; i++) emitter.emit(call(i));
    const err = await emitter.flush().then(() => undefined, (e: unknown) => e);
    expect(isProbewatchError(err, 'PW_SINK')).toBe(true);
    expect((err as ProbewatchError).retriable).toBe(true);
    await until(() => emitter.stats().sendErrors >= 3); // retried in the background with backoff
    expect(emitter.stats().buffered).toBe(5);
    expect(errors.every((e) => e.code === 'PW_SINK')).toBe(true);
    transport.down = false;
    await until(() => emitter.stats().sent === 5); // the background retry delivers without a flush
    expect(transport.events().map((e) => e.event.event_id)).toEqual(['e-0', 'e-1', 'e-2', 'e-3', 'e-4']);
  });

  it('close() delivers what it can in time, drops the rest as closed and refuses further events', async () => {
    const up = new Transport();
    const e1 = new GatewayEmitter({ producer: up, topic: 'events', lingerMs: 60_000 });
    e1.emit(call(1));
    e1.emit(call(2));
    expect(await e1.close()).toMatchObject({ sent: 2, buffered: 0, dropped: { closed: 0 } });
    expect(e1.emit(call(3))).toBe(false);
    expect(e1.stats().dropped.closed).toBe(1);

    const down = new Transport();
    down.down = true;
    const e2 = new GatewayEmitter({ producer: down, topic: 'events', lingerMs: 0, retryInitialMs: 5 });
    for (let i = 0; i < 4; i++) e2.emit(call(i));
    const stats = await e2.close(100);
    expect(stats).toMatchObject({ sent: 0, buffered: 0, dropped: { closed: 4 } });
  });

  it('counts an event it cannot build as invalid, reports it, and does not throw', () => {
    const errors: ProbewatchError[] = [];
    const emitter = new GatewayEmitter({ producer: new Transport(), topic: 'events', projection: new RandomProjection(3, 2), onError: (e) => errors.push(e) });
    expect(emitter.emit({ apiKey: 'k', modelId: 'm', input: 'x', features: [1, 2] })).toBe(false);
    expect(emitter.emit({ apiKey: 'k', modelId: 'm', input: 'x', probs: [Number.NaN, 1] })).toBe(false);
    expect(emitter.emit({ apiKey: '', modelId: 'm', input: 'x' })).toBe(false);
    expect(emitter.stats()).toMatchObject({ accepted: 0, dropped: { invalid: 3 } });
    expect(errors.map((e) => e.code)).toEqual(['PW_INVALID_EVENT', 'PW_INVALID_EVENT', 'PW_INVALID_EVENT']);
  });

  it('exports its counters on the registry it is given', async () => {
    const registry = new Registry();
    const transport = new Transport();
    transport.hold();
    const emitter = new GatewayEmitter({ producer: transport, topic: 'events', registry, maxBuffered: 2, lingerMs: 0, dropPolicy: 'newest' });
    emitter.emit(call(0));
    await until(() => transport.sends.length === 1);
    for (let i = 1; i <= 4; i++) emitter.emit(call(i));
    const text = await registry.metrics();
    expect(text).toMatch(/^probewatch_gateway_events_accepted_total 3$/m);
    expect(text).toMatch(/^probewatch_gateway_events_dropped_total\{reason="buffer_full"\} 2$/m);
    expect(text).toMatch(/^probewatch_gateway_events_buffered 2$/m);
    transport.unhold();
    await emitter.flush();
    expect(await registry.metrics()).toMatch(/^probewatch_gateway_events_sent_total 3$/m);
  });
});
