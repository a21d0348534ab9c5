import { describe, expect, it } from 'vitest';
import { formatEventLine, formatRiskScore, parseEventLine } from '../../src/codec/ndjson.ts';
import { makeEvent } from '../helpers/events.ts';

describe('NDJSON events', () => {
  it('round-trips with input_hash as 64 lowercase hex', () => {
    const e = makeEvent({ output_probs: [0.5, 0.5] });
    const line = formatEventLine(e);
    expect(JSON.parse(line).input_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(parseEventLine(line)).toEqual(e);
  });

  it('fills optional fields with their contract defaults', () => {
    const e = parseEventLine(JSON.stringify({ event_id: 'a', ts: 5, api_key: 'k', model_id: 'm', input_hash: 'ab'.repeat(32) }));
    expect(e).toMatchObject({ tenant: null, client_ip: null, input_sketch: [], output_label: -1, output_probs: [], status: 200, enforcement: null });
  });

  it.each([
    ['not JSON', '{oops', /not JSON/],
    ['an array', '[1,2]', /JSON object/],
    ['upper-case hash', JSON.stringify({ event_id: 'a', ts: 5, api_key: 'k', model_id: 'm', input_hash: 'AB'.repeat(32) }), /64 lowercase hex/],
    ['fractional ts', JSON.stringify({ event_id: 'a', ts: 5.5, api_key: 'k', model_id: 'm', input_hash: 'ab'.repeat(32) }), /ts must be/],
    ['NaN in probs', '{"event_id":"a","ts":5,"api_key":"k","model_id":"m","input_hash":"' + 'ab'.repeat(32) + '","output_probs":[0.1,"x"]}', /output_probs\[1\]/],
  ])('rejects %s', (_name, line, message) => {
    expect(() => parseEventLine(line)).toThrow(message);
  });
});

describe("NDJSON events with the model's own answer", () => {
  const line = (fields: Record<string, unknown>) =>
    JSON.stringify({ event_id: 'a', ts: 5, api_key: 'k', model_id: 'm', input_hash: 'ab'.repeat(32), output_label: 0, output_probs: [1, 0, 0], enforcement: 'deceive', ...fields });

  it('round-trips model_label and model_probs beside the altered answer', () => {
    const e = makeEvent({ output_probs: [0.1, 0.9], output_label: 1, enforcement: 'deceive', model_label: 0, model_probs: [0.9, 0.1] });
    expect(parseEventLine(formatEventLine(e))).toEqual(e);
    const top1 = parseEventLine(line({ output_probs: [], enforcement: 'truncate', model_label: 2, model_probs: [0.2, 0.3, 0.5] }));
    expect([top1.model_label, top1.model_probs]).toEqual([2, [0.2, 0.3, 0.5]]);
    expect(parseEventLine(line({ model_label: 1 })).model_probs).toEqual([]);
  });

  it.each([
    ['probabilities without the label', { model_probs: [0.2, 0.3, 0.5] }, /model_probs needs model_label/],
    ['a label past the classes', { model_label: 3, model_probs: [0.2, 0.3, 0.5] }, /model_label is 3, not one of the 3 classes of model_probs/],
    ['a label below -1', { model_label: -2 }, /model_label is -2/],
    ['a fractional label', { model_label: 0.5 }, /model_label must be an integer/],
    ['probabilities that are no distribution', { model_label: 0, model_probs: [0.5, 0.1, 0.1] }, /model_probs sum to/],
    ['a class count other than the answer', { model_label: 0, model_probs: [0.5, 0.5] }, /model_probs has 2 classes, output_probs 3/],
  ])('rejects %s', (_name, fields, message) => {
    expect(() => parseEventLine(line(fields))).toThrow(message);
  });
});

describe('NDJSON risk scores', () => {
  it('writes final only when set', () => {
    const s = { api_key: 'k', ts: 1, events_seen: 2, risk: 0.5, level: 'throttle' as const, detectors: { volume: 0.5 }, evidence: [] };
    expect(JSON.parse(formatRiskScore(s))).not.toHaveProperty('final');
    expect(JSON.parse(formatRiskScore({ ...s, final: true })).final).toBe(true);
  });
});
