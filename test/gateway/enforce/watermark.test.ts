import { createSecretKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deceiveProbs } from '../../../src/gateway/enforce/deceiveProbs.ts';
import { parseEnforcementOptions } from '../../../src/gateway/enforce/enforcementOptions.ts';
import { watermarkScore } from '../../../src/gateway/enforce/watermark.ts';
import { argmaxOf, inputHash, randomProbVectors } from './helpers.ts';

const secret = createSecretKey(Buffer.alloc(32, 0x77));
// The watermark rides on label-preserving answers; in the default misinformation mode the swapped true top dominates
// the non-top values it is read from (300 of these answers give z ≈ 3.5 there, 17 here).
const settings = parseEnforcementOptions({ deceive: { mode: 'reverse-sigmoid', watermark: { enabled: true } } }).deceive;
const vectors = randomProbVectors(300, 5, 11);

/** What key `apiKey` received for the 300 inputs `tag-i`. */
function answersOf(apiKey: string, tag: string, s = settings) {
  return vectors.map((p, i) => {
    const hash = inputHash(`${tag}-${i}`);
    return { inputHash: hash, probs: deceiveProbs(p, { apiKey, inputHash: hash }, s, { secret }) };
  });
}

describe('per-key watermark', () => {
  it('keeps the top-1 while embedding', () => {
    answersOf('alice', 'a').forEach((a, i) => expect(argmaxOf(a.probs)).toBe(argmaxOf(vectors[i])));
  });

  it("finds a key's watermark in its own answers", () => {
    const score = watermarkScore(secret, 'alice', answersOf('alice', 'a'));
    expect(score.answers).toBe(300);
    expect(score.watermarked).toBe(true);
    expect(score.z).toBeGreaterThan(8);
  });

  it("does not find it in another key's answers, in unwatermarked answers, or under another secret", () => {
    const others = [
      watermarkScore(secret, 'alice', answersOf('bob', 'a')),
      watermarkScore(secret, 'alice', answersOf('alice', 'a', { ...settings, watermark: { ...settings.watermark, enabled: false } })),
      watermarkScore(secret, 'alice', vectors.map((p, i) => ({ inputHash: inputHash(`a-${i}`), probs: p }))),
      watermarkScore(createSecretKey(Buffer.alloc(32, 1)), 'alice', answersOf('alice', 'a')),
    ];
    for (const s of others) {
      expect(s.watermarked).toBe(false);
      expect(Math.abs(s.z)).toBeLessThan(4);
    }
  });

  it("tells two watermarked keys apart: each key's answers score for that key only", () => {
    const bob = answersOf('bob', 'b');
    expect(watermarkScore(secret, 'bob', bob).watermarked).toBe(true);
    expect(watermarkScore(secret, 'alice', bob).watermarked).toBe(false);
  });

  it('skips answers without probabilities', () => {
    expect(watermarkScore(secret, 'alice', [{ inputHash: inputHash(1), probs: [] }])).toEqual({ z: 0, answers: 0, watermarked: false });
  });
});
