import { describe, expect, it } from 'vitest';
import { AvroEventCodec } from '../../src/codec/AvroEventCodec.ts';
import { frame } from '../../src/codec/confluentFraming.ts';
import { schemaType } from '../../src/codec/schemas.ts';
import { decodeMessages } from '../../src/pipeline/decodeMessages.ts';
import { makeEvent } from '../helpers/events.ts';

describe('decodeMessages', () => {
  const codec = new AvroEventCodec();

  it('keeps valid events with their offsets and turns every bad message into a dead letter with its code', () => {
    const good = [makeEvent(), makeEvent()];
    const invalid = frame(1, schemaType('InferenceEvent').toBuffer({ ...makeEvent(), event_id: '' }));
    const messages = [
      { offset: '10', value: codec.encode(good[0]) },
      { offset: '11', value: Buffer.from('plain text') },
      { offset: '12', value: null },
      { offset: '13', value: frame(42, Buffer.from([0])) },
      { offset: '14', value: frame(1, Buffer.from([2, 65, 4])) },
      { offset: '15', value: invalid },
      { offset: '16', value: codec.encode(good[1]) },
    ];
    const { events, deadLetters } = decodeMessages(codec, 'ev', 2, messages, 99);
    expect(events.map((e) => [e.offset, e.partition, e.event.event_id])).toEqual([
      ['10', 2, good[0].event_id],
      ['16', 2, good[1].event_id],
    ]);
    expect(deadLetters.map((d) => [d.offset, d.error_code])).toEqual([
      ['11', 'PW_DECODE_FRAMING'],
      ['12', 'PW_DECODE_FRAMING'],
      ['13', 'PW_UNKNOWN_SCHEMA'],
      ['14', 'PW_DECODE_AVRO'],
      ['15', 'PW_INVALID_EVENT'],
    ]);
    expect(deadLetters[0]).toMatchObject({ raw: Buffer.from('plain text'), topic: 'ev', partition: 2, ts: 99 });
    expect(deadLetters[1].raw.length).toBe(0);
    expect(deadLetters.every((d) => d.message.length > 0)).toBe(true);
  });
});
