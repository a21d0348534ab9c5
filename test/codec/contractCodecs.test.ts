import { describe, expect, it } from 'vitest';
import { frame } from '../../src/codec/confluentFraming.ts';
import { SCHEMA_IDS, deadLetterCodec, decisionCodec, riskScoreCodec } from '../../src/codec/contractCodecs.ts';
import type { DeadLetter, Decision, RiskScore } from '../../src/contract.ts';
import { isProbewatchError } from '../../src/errors.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isProbewatchError(err) ? err.code : 'not a ProbewatchError';
  }
  return undefined;
}

describe('contract codecs', () => {
  const score: RiskScore = { api_key: 'k', ts: 1_767_600_000_123, events_seen: 412, risk: 0.8125, level: 'truncate', detectors: { volume: 0.5, grid: 0.625 }, evidence: ['volume: 412 calls'] };

  it('round-trips a RiskScore, with and without final', () => {
    const bytes = riskScoreCodec.encode(score);
    expect(bytes[0]).toBe(0);
    expect(bytes.readUInt32BE(1)).toBe(SCHEMA_IDS.RiskScore);
    expect(riskScoreCodec.decode(bytes)).toEqual(score);
    expect('final' in riskScoreCodec.decode(bytes)).toBe(false);
    expect(riskScoreCodec.decode(riskScoreCodec.encode({ ...score, final: true }))).toEqual({ ...score, final: true });
  });

  it('round-trips a Decision and a DeadLetter with their own schema ids', () => {
    const d: Decision = { api_key: 'k', level: 'throttle', reason: 'risk 0.6', expires_at: 1_767_603_600_000, shadow: true };
    const dl: DeadLetter = { raw: Buffer.from([1, 2, 3]), topic: 't', partition: 3, offset: '9007199254740993', error_code: 'PW_INVALID_EVENT', message: 'bad', ts: 5, reason: 'probs_sum' };
    expect(decisionCodec.encode(d).readUInt32BE(1)).toBe(SCHEMA_IDS.Decision);
    expect(decisionCodec.decode(decisionCodec.encode(d))).toEqual(d);
    expect(deadLetterCodec.encode(dl).readUInt32BE(1)).toBe(SCHEMA_IDS.DeadLetter);
    expect(deadLetterCodec.decode(deadLetterCodec.encode(dl))).toEqual(dl);
  });

  it('gives every contract type a distinct schema id', () => {
    expect(new Set(Object.values(SCHEMA_IDS)).size).toBe(4);
  });

  it('rejects a message of another contract type, unframed bytes and a bad payload with coded errors', () => {
    expect(codeOf(() => decisionCodec.decode(riskScoreCodec.encode(score)))).toBe('PW_UNKNOWN_SCHEMA');
    expect(codeOf(() => riskScoreCodec.decode(Buffer.from('{"api_key":"k"}')))).toBe('PW_DECODE_FRAMING');
    expect(codeOf(() => riskScoreCodec.decode(frame(SCHEMA_IDS.RiskScore, Buffer.from([2, 65, 4]))))).toBe('PW_DECODE_AVRO');
  });
});
