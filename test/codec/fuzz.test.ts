import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AvroEventCodec } from '../../src/codec/AvroEventCodec.ts';
import { frame } from '../../src/codec/confluentFraming.ts';
import { formatEventLine } from '../../src/codec/ndjson.ts';
import { DEFAULT_EVENT_LIMITS, validateEvent } from '../../src/codec/validateEvent.ts';
import type { InferenceEvent } from '../../src/contract.ts';
import { INVALID_EVENT_REASONS, isProbewatchError, ProbewatchError } from '../../src/errors.ts';
import { decodeMessages } from '../../src/pipeline/decodeMessages.ts';
import { DEFAULT_GATE_LIMITS, EventGate } from '../../src/pipeline/EventGate.ts';
import { readRecordedEvents } from '../../src/sources/recordedEvents.ts';
import { KeyStateStore } from '../../src/state/KeyStateStore.ts';

/**
 * Property tests over everything that reads untrusted input: no input
 * crashes the decoder, the validator, the gate or the NDJSON reader, and
 * every rejection carries a code (and, for an invalid event, a reason).
 */
const codec = new AvroEventCodec();
const REASONS = new Set<string>(INVALID_EVENT_REASONS);
const REJECT_CODES = new Set(['PW_DECODE_FRAMING', 'PW_DECODE_AVRO', 'PW_DECODE_JSON', 'PW_INVALID_EVENT', 'PW_UNKNOWN_SCHEMA']);
const RUNS = { numRuns: 300 };

function expectCoded(err: unknown): void {
  expect(isProbewatchError(err), String(err)).toBe(true);
  const e = err as ProbewatchError;
  expect(REJECT_CODES.has(e.code), e.code).toBe(true);
  if (e.code === 'PW_INVALID_EVENT') expect(REASONS.has(e.reason ?? ''), `${e.message}: reason ${e.reason}`).toBe(true);
}

/** Accepted events keep every limit. */
function expectWithinLimits(e: InferenceEvent): void {
  const l = DEFAULT_EVENT_LIMITS;
  expect(e.api_key.length).toBeGreaterThan(0);
  expect(e.api_key.length).toBeLessThanOrEqual(l.maxApiKeyLength);
  expect(e.event_id.length).toBeLessThanOrEqual(l.maxEventIdLength);
  expect(e.model_id.length).toBeLessThanOrEqual(l.maxModelIdLength);
  expect((e.tenant ?? '').length).toBeLessThanOrEqual(l.maxTenantLength);
  expect((e.client_ip ?? '').length).toBeLessThanOrEqual(l.maxClientIpLength);
  expect(e.input_sketch.length).toBeLessThanOrEqual(l.maxSketchWidth);
  expect(e.output_probs.length).toBeLessThanOrEqual(l.maxClasses);
  if (e.output_probs.length) {
    expect(e.output_probs.every((p) => p >= 0 && p <= 1)).toBe(true);
    expect(Math.abs(e.output_probs.reduce((a, b) => a + b, 0) - 1)).toBeLessThanOrEqual(l.probsTolerance + (e.enforcement === 'truncate' ? 0.05 * e.output_probs.length : 0));
  }
  expect(e.status).toBeGreaterThanOrEqual(l.statusMin);
  expect(e.status).toBeLessThanOrEqual(l.statusMax);
  expect(Number.isSafeInteger(e.ts)).toBe(true);
}

const finite = fc.double({ noNaN: true, noDefaultInfinity: true, min: -2, max: 2 });
const anyNumber = fc.oneof(fc.double(), fc.integer(), fc.constant(Number.NaN), fc.constant(Infinity));

/** Fields that are often right and sometimes anything: the interesting inputs sit near the contract's edges. */
const eventLike = fc.record(
  {
    event_id: fc.oneof(fc.string({ maxLength: 40 }), fc.string({ minLength: 120, maxLength: 200 }), fc.anything()),
    ts: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), anyNumber, fc.anything()),
    api_key: fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.string({ minLength: 250, maxLength: 300 }), fc.constant(''), fc.anything()),
    tenant: fc.oneof(fc.constant(null), fc.string({ maxLength: 10 }), fc.string({ minLength: 250, maxLength: 300 }), fc.anything()),
    client_ip: fc.oneof(fc.constant(null), fc.ipV4(), fc.ipV6(), fc.string({ minLength: 60, maxLength: 70 })),
    model_id: fc.oneof(fc.string({ maxLength: 10 }), fc.anything()),
    input_hash: fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a)), fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)), fc.anything()),
    input_sketch: fc.oneof(fc.array(finite, { maxLength: 20 }), fc.array(anyNumber, { maxLength: 5 }), fc.array(finite, { minLength: 255, maxLength: 260 }), fc.anything()),
    output_label: fc.oneof(fc.integer({ min: -2, max: 12 }), anyNumber, fc.anything()),
    output_probs: fc.oneof(
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 12 }).map((a) => {
        const s = a.reduce((x, y) => x + y, 0);
        return s > 0 ? a.map((x) => x / s) : a;
      }),
      fc.array(finite, { maxLength: 12 }),
      fc.array(anyNumber, { maxLength: 4 }),
      fc.anything(),
    ),
    status: fc.oneof(fc.integer({ min: -5, max: 700 }), anyNumber, fc.anything()),
    latency_ms: fc.oneof(fc.double({ min: -10, max: 1e4, noNaN: true }), anyNumber, fc.anything()),
    enforcement: fc.oneof(fc.constant(null), fc.constantFrom('allow', 'truncate', 'deceive'), fc.string({ maxLength: 40 })),
  },
  { requiredKeys: [] },
);

const validEvent = fc.record({
  event_id: fc.uuid(),
  ts: fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }),
  api_key: fc.string({ minLength: 1, maxLength: 20 }),
  tenant: fc.option(fc.string({ maxLength: 10 })),
  client_ip: fc.option(fc.ipV4()),
  model_id: fc.constantFrom('m1', 'm2'),
  input_hash: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a)),
  input_sketch: fc.constantFrom(0, 4, 16).chain((n) => fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: n, maxLength: n })),
  output_label: fc.constant(0),
  output_probs: fc.constantFrom([], [1], [0.25, 0.75], [0.5, 0.25, 0.25]),
  status: fc.constantFrom(200, 429, 403),
  latency_ms: fc.double({ min: 0, max: 100, noNaN: true }),
  enforcement: fc.constant(null),
}) as fc.Arbitrary<InferenceEvent>;

describe('fuzz: decoder, validator, gate and NDJSON reader', () => {
  it('refuses an array that claims billions of items without allocating them', () => {
    // A valid event up to its sketch, whose block count then claims 2^31 - 1 floats (avsc would allocate and loop over them).
    const e = codec.encode({ event_id: 'e', ts: 1, api_key: 'k', tenant: null, client_ip: null, model_id: 'm', input_hash: Buffer.alloc(32), input_sketch: [], output_label: -1, output_probs: [], status: 200, latency_ms: 0, enforcement: null });
    const prefix = e.subarray(0, e.length - 1 - 1 - 2 - 8 - 1 - 1); // drops sketch(0), label, probs(0), status, latency, enforcement
    const zigzag = (n: number) => {
      const out: number[] = [];
      let v = n * 2;
      while (v >= 128) {
        out.push((v % 128) | 128);
        v = Math.floor(v / 128);
      }
      out.push(v);
      return Buffer.from(out);
    };
    const hostile = Buffer.concat([prefix, zigzag(2 ** 31 - 1), Buffer.alloc(16)]);
    expect(() => codec.decode(hostile)).toThrow(expect.objectContaining({ code: 'PW_DECODE_AVRO' }));
  });

  it('the validator accepts within the limits or refuses with a reason, whatever the record', () => {
    fc.assert(
      fc.property(fc.oneof(eventLike, fc.dictionary(fc.string(), fc.anything())), (record) => {
        let event: InferenceEvent;
        try {
          event = validateEvent({ ...(record as Record<string, unknown>) });
        } catch (err) {
          expectCoded(err);
          return;
        }
        expectWithinLimits(event);
      }),
      RUNS,
    );
  });

  it('decoding any bytes, framed or not, or a damaged valid message, dead-letters with a code and never throws', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      fc.uint8Array({ maxLength: 200 }).map((a) => frame(1, Buffer.from(a))),
      fc.tuple(validEvent, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 })).map(([e, flips]) => {
        const b = Buffer.from(codec.encode(e));
        for (const [at, v] of flips) b[at % b.length] = v;
        return b;
      }),
      fc.constant(null),
    );
    fc.assert(
      fc.property(fc.array(bytes, { maxLength: 8 }), (values) => {
        const { events, deadLetters } = decodeMessages(codec, 't', 0, values.map((value, i) => ({ offset: String(i), value })), 0);
        expect(events.length + deadLetters.length).toBe(values.length);
        for (const d of deadLetters) {
          expect(REJECT_CODES.has(d.error_code), d.error_code).toBe(true);
          if (d.error_code === 'PW_INVALID_EVENT') expect(REASONS.has(d.reason ?? ''), d.message).toBe(true);
        }
        for (const e of events) expectWithinLimits(e.event);
      }),
      RUNS,
    );
  });

  it('the gate refuses with a reason and never throws, over any sequence of valid events', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(validEvent, fc.integer({ min: 0, max: 2 })), { maxLength: 30 }), (seq) => {
        const gate = new EventGate(DEFAULT_GATE_LIMITS, new KeyStateStore({ maxKeys: 10, idleEvictMs: 1e12, dedupWindow: 0, maxEntities: { other: 4 } }));
        const widths = new Map<string, number>();
        for (const [e, partition] of seq) {
          const refused = gate.check(e, String(partition), 1_750_000_000_000);
          if (refused) {
            expectCoded(refused);
            continue;
          }
          // An admitted sketch has its model's width.
          if (e.input_sketch.length) {
            expect(widths.get(e.model_id) ?? e.input_sketch.length).toBe(e.input_sketch.length);
            widths.set(e.model_id, e.input_sketch.length);
          }
        }
      }),
      RUNS,
    );
  });

  it('the NDJSON reader yields an event or a coded error for every line, whatever the text', async () => {
    const line = fc.oneof(
      validEvent.map(formatEventLine),
      fc.tuple(validEvent, fc.nat(), fc.string({ maxLength: 3 })).map(([e, at, s]) => {
        const text = formatEventLine(e);
        const i = at % text.length;
        return text.slice(0, i) + s + text.slice(i + 1);
      }),
      fc.string({ maxLength: 60 }),
      fc.json(),
      fc.constantFrom('{}', '[]', 'null', '\r', '{"input_hash":1}'),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 10 }), fc.constantFrom('\n', '\r\n', '\r'), async (lines, eol) => {
        const items = [];
        for await (const item of readRecordedEvents('-', Readable.from([Buffer.from(lines.join(eol))]))) items.push(item);
        for (const item of items) {
          if ('error' in item) expectCoded(item.error);
          else expectWithinLimits(item.event);
        }
      }),
      { numRuns: 200 },
    );
  });
});
