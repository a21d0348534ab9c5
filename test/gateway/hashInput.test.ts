import { createHash, createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isProbewatchError } from '../../src/errors.ts';
import { buildEvent, hashInput } from '../../src/gateway/buildEvent.ts';
import { HMAC_KEY_ENV, MIN_HMAC_KEY_BYTES, loadHmacKey } from '../../src/gateway/hmacKey.ts';

const SECRET = 'k'.repeat(MIN_HMAC_KEY_BYTES) + '-gateway-secret';
const input = Buffer.from('{"pixels":[0,12,255]}');

describe('input hashing', () => {
  it('is HMAC-SHA256 with a key and SHA-256 without, exactly as node:crypto computes them', () => {
    const keyed = hashInput(input, SECRET);
    const plain = hashInput(input);
    expect(keyed).toEqual(createHmac('sha256', SECRET).update(input).digest());
    expect(plain).toEqual(createHash('sha256').update(input).digest());
    expect(keyed).toHaveLength(32);
    expect(keyed.equals(plain)).toBe(false);
  });

  it('depends on the key: another key gives another hash, the same key the same', () => {
    expect(hashInput(input, SECRET).equals(hashInput(input, SECRET + 'x'))).toBe(false);
    expect(hashInput(input, SECRET)).toEqual(hashInput(input, SECRET));
  });

  it('hashes a string input as its UTF-8 bytes', () => {
    expect(hashInput('héllo', SECRET)).toEqual(hashInput(Buffer.from('héllo', 'utf8'), SECRET));
  });

  it('gives the same hash with the key loaded from the environment as a KeyObject', () => {
    const key = loadHmacKey({ [HMAC_KEY_ENV]: SECRET });
    expect(hashInput(input, key)).toEqual(createHmac('sha256', SECRET).update(input).digest());
    expect(buildEvent({ apiKey: 'a', modelId: 'm', input }, { hmacKey: key }).input_hash).toEqual(hashInput(input, SECRET));
  });
});

describe('loadHmacKey', () => {
  const hex = Buffer.alloc(MIN_HMAC_KEY_BYTES, 0xab);

  it('reads raw, hex: and base64: forms', () => {
    const fromHex = loadHmacKey({ K: `hex:${hex.toString('hex')}` }, 'K');
    const fromB64 = loadHmacKey({ K: `base64:${hex.toString('base64')}` }, 'K');
    expect(fromHex.export()).toEqual(hex);
    expect(fromB64.export()).toEqual(hex);
    expect(loadHmacKey({ K: SECRET }, 'K').export()).toEqual(Buffer.from(SECRET));
  });

  it('refuses a missing or short key, naming the variable and never the value', () => {
    const missing = (() => { try { loadHmacKey({}); } catch (e) { return e; } })();
    expect(isProbewatchError(missing, 'PW_CONFIG')).toBe(true);
    expect((missing as Error).message).toContain(HMAC_KEY_ENV);
    const shortValue = 'short-secret-value';
    const short = (() => { try { loadHmacKey({ [HMAC_KEY_ENV]: shortValue }); } catch (e) { return e; } })();
    expect(isProbewatchError(short, 'PW_CONFIG')).toBe(true);
    expect((short as Error).message).not.toContain(shortValue);
    expect(() => loadHmacKey({ K: 'hex:abc' }, 'K')).toThrow(/hex digits/);
  });

  it('never shows the key bytes when the key is printed or serialised', () => {
    const key = loadHmacKey({ [HMAC_KEY_ENV]: SECRET });
    expect(inspect(key, { depth: 5 })).not.toContain('gateway-secret');
    expect(JSON.stringify({ key })).not.toContain('gateway-secret');
  });
});

describe("buildEvent: the model's own answer", () => {
  const model = { probs: [0.2, 0.8] };
  const call = { apiKey: 'k', modelId: 'm', input: 'x', probs: [1, 0], label: 0, model, ts: 1, eventId: 'e' };

  it('goes beside an answer a response altered (answered at truncate or deceive), with its top-1', () => {
    for (const enforcement of ['truncate', 'deceive']) {
      const e = buildEvent({ ...call, enforcement });
      expect([e.model_label, e.model_probs]).toEqual([1, [Math.fround(0.2), Math.fround(0.8)]]);
    }
  });

  it('is left out when the client got the model answer or no answer', () => {
    for (const over of [{ enforcement: null }, { enforcement: 'observe' }, { enforcement: 'throttle' }, { enforcement: 'truncate', status: 429 }, { enforcement: 'block', status: 403 }]) {
      expect(buildEvent({ ...call, ...over })).not.toHaveProperty('model_label');
    }
  });
});
