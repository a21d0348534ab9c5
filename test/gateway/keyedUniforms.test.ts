import { createHash, createHmac, createSecretKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashInput } from '../../src/gateway/buildEvent.ts';
import { keyedUniforms } from '../../src/gateway/keyedUniforms.ts';

const KEY = createHash('sha256').update('probewatch-test-uniforms-key').digest();
const CONTEXT = Buffer.from([0, 0, 0, 5, 0, 0, 0, 16]);

function draws(next: () => number, n: number): number[] {
  return Array.from({ length: n }, next);
}

describe('keyedUniforms', () => {
  it('repeats for the same key and context, whatever form the key takes', () => {
    const a = draws(keyedUniforms(KEY, CONTEXT), 100);
    expect(draws(keyedUniforms(createSecretKey(KEY), CONTEXT), 100)).toEqual(a);
    expect(draws(keyedUniforms(KEY, Buffer.from([0, 0, 0, 5, 0, 0, 0, 8])), 100)).not.toEqual(a);
    expect(draws(keyedUniforms(Buffer.concat([KEY, Buffer.from([1])]), CONTEXT), 100)).not.toEqual(a);
  });

  it('draws in [0, 1), spread evenly', () => {
    const n = 20_000;
    const u = draws(keyedUniforms(KEY, CONTEXT), n);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    // Ten bins of 2,000 expected each; the standard deviation of a bin is 42, the bound 4.5 of them.
    const bins = new Array<number>(10).fill(0);
    for (const v of u) bins[Math.floor(v * 10)]++;
    for (const count of bins) expect(Math.abs(count - n / 10)).toBeLessThan(190);
    expect(new Set(u).size).toBe(n);
  });

  it('is not the deployment key’s HMAC of any bytes a client could have hashed', () => {
    // The stream is keyed by an HKDF subkey: the input hash of context ‖ counter (the naive stream) does not give it away.
    const message = Buffer.concat([CONTEXT, Buffer.alloc(8)]);
    const naive = hashInput(message, KEY);
    expect(naive.equals(createHmac('sha256', KEY).update(message).digest())).toBe(true);
    const next = keyedUniforms(KEY, CONTEXT);
    const first = next();
    expect(first).not.toBe(((naive.readUInt32BE(0) >>> 5) * 67_108_864 + (naive.readUInt32BE(4) >>> 6)) / 2 ** 53);
  });

  it('refuses a key shorter than 32 bytes, naming its length only', () => {
    expect(() => keyedUniforms(KEY.subarray(0, 31), CONTEXT)).toThrow(/at least 32 bytes, got 31/);
    expect(() => keyedUniforms(createSecretKey(KEY.subarray(0, 16)), CONTEXT)).toThrow(/got 16/);
  });
});
