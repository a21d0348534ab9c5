import { describe, expect, it } from 'vitest';
import { AvroEventCodec } from '../../src/codec/AvroEventCodec.ts';
import { frame } from '../../src/codec/confluentFraming.ts';
import { loadSchema } from '../../src/codec/schemas.ts';
import { isProbewatchError } from '../../src/errors.ts';
import { makeEvent } from '../helpers/events.ts';

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;

describe('AvroEventCodec', () => {
  it('round-trips an event through Confluent-framed Avro', () => {
    const codec = new AvroEventCodec();
    const e = makeEvent({ input_sketch: [0.5, -1.25], output_probs: [0.25, 0.75], output_label: 1, tenant: 't', client_ip: '10.1.2.3' });
    const bytes = codec.encode(e);
    expect(bytes[0]).toBe(0);
    expect(bytes.readUInt32BE(1)).toBe(1);
    expect(codec.decode(bytes)).toEqual(e);
  });

  it.each([
    ['empty', Buffer.alloc(0), 'PW_DECODE_FRAMING'],
    ['wrong magic byte', Buffer.from([1, 0, 0, 0, 1, 2, 3]), 'PW_DECODE_FRAMING'],
    ['JSON instead of Avro', Buffer.from('{"event_id":"x"}'), 'PW_DECODE_FRAMING'],
    ['unknown schema id', frame(99, Buffer.from([2, 65])), 'PW_UNKNOWN_SCHEMA'],
    ['truncated payload', frame(1, Buffer.from([2, 65, 4])), 'PW_DECODE_AVRO'],
  ])('rejects %s with a coded error', (_name, bytes, code) => {
    const codec = new AvroEventCodec();
    let caught: unknown;
    try {
      codec.decode(bytes);
    } catch (err) {
      caught = err;
    }
    expect(isProbewatchError(caught)).toBe(true);
    expect((caught as { code: string }).code).toBe(code);
  });

  it('rejects trailing garbage after a valid payload', () => {
    const codec = new AvroEventCodec();
    const bytes = Buffer.concat([codec.encode(makeEvent()), Buffer.from([1, 2, 3])]);
    expect(() => codec.decode(bytes)).toThrow(/not a valid InferenceEvent/);
  });

  it('rejects events that decode but break the contract', () => {
    const codec = new AvroEventCodec();
    const bad = codec.readerType.toBuffer({ ...makeEvent(), api_key: '' });
    expect(() => codec.decode(frame(1, bad))).toThrow(/api_key/);
  });
});

describe('schema evolution', () => {
  const v0 = loadSchema(fixture('InferenceEvent.v0.avsc'));
  const v2 = loadSchema(fixture('InferenceEvent.v2.avsc'));

  it('reads an event written with the older schema, filling defaults', () => {
    const codec = new AvroEventCodec({ knownWriters: new Map([[7, v0]]) });
    const { status, latency_ms, enforcement, ...old } = makeEvent({ output_label: 2 });
    const decoded = codec.decode(frame(7, v0.toBuffer(old)));
    expect(decoded).toEqual({ ...old, status: 200, latency_ms: 0, enforcement: null });
    expect([status, latency_ms, enforcement]).toEqual([200, 1, null]);
  });

  it('lets an old reader read what the current writer writes', () => {
    const current = new AvroEventCodec();
    const oldReader = new AvroEventCodec({ readerType: v0, writerId: 0, knownWriters: new Map([[1, current.readerType]]) });
    const e = makeEvent({ enforcement: 'throttle', status: 429 });
    const decoded = oldReader.decode(current.encode(e)) as unknown as Record<string, unknown>;
    expect(decoded.api_key).toBe(e.api_key);
    expect(decoded.input_hash).toEqual(e.input_hash);
  });

  it("carries the model's own answer beside an altered one, and reads it as absent from a writer without it", () => {
    const codec = new AvroEventCodec({ knownWriters: new Map([[7, v0]]) });
    const e = makeEvent({ output_probs: [], output_label: 1, enforcement: 'truncate', model_label: 1, model_probs: [Math.fround(0.25), Math.fround(0.75)] });
    expect(codec.decode(codec.encode(e))).toEqual(e);
    const { status, latency_ms, enforcement, ...old } = makeEvent();
    expect(codec.decode(frame(7, v0.toBuffer(old)))).not.toHaveProperty('model_label');
  });

  it('reads an event from a newer writer that added an optional field', () => {
    const codec = new AvroEventCodec({ knownWriters: new Map([[3, v2]]) });
    const e = makeEvent();
    expect(codec.decode(frame(3, v2.toBuffer({ ...e, region: 'eu-west-1' })))).toEqual(e);
  });
});
