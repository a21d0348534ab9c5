import { createSecretKey } from 'node:crypto';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LEVELS, type Level } from '../../../src/contract.ts';
import { isProbewatchError } from '../../../src/errors.ts';
import { Enforcer, type EnforcerOptions } from '../../../src/gateway/enforce/Enforcer.ts';
import { InMemoryTokenBucket } from '../../../src/gateway/enforce/InMemoryTokenBucket.ts';
import type { RateBucket } from '../../../src/gateway/enforce/RateBucket.ts';
import { argmaxOf, inputHash, sum } from './helpers.ts';

const T0 = 1_700_000_000_000;
const probs = [0.1, 0.62, 0.2, 0.08];
const call = (apiKey: string, now = T0, i = 0) => ({ apiKey, inputHash: inputHash(i), now });

function enforcer(over: Partial<EnforcerOptions> = {}): Enforcer {
  return new Enforcer({ bucket: new InMemoryTokenBucket(), ...over });
}

describe('Enforcer', () => {
  it('answers allow and observe untouched', async () => {
    const e = enforcer();
    for (const level of ['allow', 'observe'] as const) {
      const out = await e.enforce(call('k'), level, { probs });
      expect(out).toEqual({ status: 200, level: 'allow', decision: level, headers: {}, body: { label: 1, probs } });
    }
  });

  it('throttles per key: the burst passes untouched, then 429 with Retry-After in whole seconds and a stable body', async () => {
    const e = enforcer({ throttle: { ratePerMinute: 10, burst: 3 } });
    for (let i = 0; i < 3; i++) {
      const ok = await e.enforce(call('k', T0 + i), 'throttle', { probs });
      expect(ok).toMatchObject({ status: 200, level: 'throttle', body: { label: 1, probs } });
    }
    const refused = await e.enforce(call('k', T0 + 3), 'throttle', { probs });
    // 3 ms of refill happened: 6000 − 3 ms to wait, 6 s rounded up.
    expect(refused).toEqual({
      status: 429,
      level: 'throttle',
      decision: 'throttle',
      headers: { 'retry-after': '6' },
      error: { error: 'PW_THROTTLED', message: 'Rate limit for this API key is 10 calls per minute; retry after 6 s.', retry_after_s: 6 },
    });
    expect((await e.enforce(call('other', T0 + 3), 'throttle', { probs })).status).toBe(200);
    expect((await e.enforce(call('k', T0 + 6_000), 'throttle', { probs })).status).toBe(200);
    expect((await e.enforce(call('k', T0 + 6_001), 'throttle', { probs })).status).toBe(429);
  });

  it('truncates to the top-1 label only, or to rounded probabilities', async () => {
    const top1 = await enforcer().enforce(call('k'), 'truncate', { probs });
    expect(top1).toMatchObject({ status: 200, level: 'truncate', body: { label: 1, probs: [] } });
    const rounded = await enforcer({ truncate: { mode: 'round', decimals: 1 } }).enforce(call('k'), 'truncate', { probs });
    expect(rounded.body).toEqual({ label: 1, probs: [0.1, 0.6, 0.2, 0.1] });
  });

  it('deceives with a keyed wrong label by default, the same for a repeated call', async () => {
    const e = enforcer({ watermarkKey: createSecretKey(Buffer.alloc(32, 3)) });
    const a = await e.enforce(call('k'), 'deceive', { probs });
    const b = await e.enforce(call('k', T0 + 60_000), 'deceive', { probs });
    expect(a.level).toBe('deceive');
    expect(a.body!.label).not.toBe(1);
    expect(argmaxOf(a.body!.probs)).toBe(a.body!.label);
    [...a.body!.probs].sort().forEach((v, i) => expect(v).toBeCloseTo([...probs].sort()[i], 12));
    expect(b.body).toEqual(a.body);
  });

  it('deceives with label-preserving, deterministic probabilities in reverse-sigmoid mode', async () => {
    const e = enforcer({ watermarkKey: createSecretKey(Buffer.alloc(32, 3)), deceive: { mode: 'reverse-sigmoid' } });
    const a = await e.enforce(call('k'), 'deceive', { probs });
    const b = await e.enforce(call('k', T0 + 60_000), 'deceive', { probs });
    expect(a.level).toBe('deceive');
    expect(a.body!.label).toBe(1);
    expect(argmaxOf(a.body!.probs)).toBe(1);
    expect(sum(a.body!.probs)).toBeCloseTo(1, 12);
    expect(a.body!.probs).not.toEqual(probs);
    expect(b.body).toEqual(a.body);
  });

  it('blocks with 403 and a stable body, without touching the bucket', async () => {
    const taken: string[] = [];
    const bucket: RateBucket = { take: async (key) => (taken.push(key), { allowed: true, retryAfterMs: 0 }) };
    const out = await enforcer({ bucket }).enforce(call('k'), 'block', { probs });
    expect(out).toEqual({ status: 403, level: 'block', decision: 'block', headers: {}, error: { error: 'PW_BLOCKED', message: 'This API key is blocked.' } });
    expect(taken).toEqual([]);
  });

  it('keeps the throttle at truncate and deceive unless told not to', async () => {
    for (const level of ['truncate', 'deceive'] as const) {
      const carried = enforcer({ throttle: { burst: 1 } });
      expect((await carried.enforce(call('k'), level, { probs })).status).toBe(200);
      expect(await carried.enforce(call('k'), level, { probs })).toMatchObject({ status: 429, level: 'throttle', decision: level });
      const separate = enforcer({ throttle: { burst: 1, atHigherLevels: false } });
      await separate.enforce(call('k'), level, { probs });
      expect(await separate.enforce(call('k'), level, { probs })).toMatchObject({ status: 200, level });
    }
  });

  it('answers enforceSync exactly as enforce for every level', async () => {
    const a = enforcer({ throttle: { burst: 2 } });
    const b = enforcer({ throttle: { burst: 2 } });
    for (const [i, level] of [...LEVELS, ...LEVELS].entries()) {
      expect(b.enforceSync(call('k', T0 + i, i), level, { probs })).toEqual(await a.enforce(call('k', T0 + i, i), level, { probs }));
    }
    expect(a.counters()).toEqual(b.counters());
    const async: RateBucket = { take: async () => ({ allowed: true, retryAfterMs: 0 }) };
    expect(() => enforcer({ bucket: async }).enforceSync(call('k'), 'throttle', { probs })).toThrow(/synchronous bucket/);
  });

  it('fails open or closed when the bucket store fails, and counts it', async () => {
    const broken: RateBucket = { take: () => Promise.reject(new Error('ECONNREFUSED')) };
    const registry = new Registry();
    const open = enforcer({ bucket: broken, registry });
    expect((await open.enforce(call('k'), 'throttle', { probs })).status).toBe(200);
    const closed = enforcer({ bucket: broken, throttle: { onBucketError: 'closed' } });
    expect(await closed.enforce(call('k'), 'throttle', { probs })).toMatchObject({ status: 429, headers: { 'retry-after': '1' } });
    expect(open.counters().bucketErrors).toBe(1);
    expect(await registry.getSingleMetricAsString('probewatch_gateway_throttle_bucket_errors_total')).toMatch(/ 1$/m);
  });

  it('counts answers by level and status in its metric', async () => {
    const registry = new Registry();
    const e = enforcer({ registry, throttle: { burst: 1 } });
    const levels: Level[] = ['allow', 'throttle', 'throttle', 'truncate', 'block'];
    for (const level of levels) await e.enforce(call('k'), level, { probs });
    const text = await registry.getSingleMetricAsString('probewatch_gateway_enforced_total');
    expect(text).toContain('probewatch_gateway_enforced_total{level="throttle",status="429"} 2');
    expect(text).toContain('probewatch_gateway_enforced_total{level="allow",status="200"} 1');
    expect(e.counters()).toEqual({ answered: 5, throttled: 2, blocked: 1, truncated: 0, deceived: 0, bucketErrors: 0 });
  });

  it('refuses model probabilities that are not finite or negative, without spending a token', async () => {
    const e = enforcer({ throttle: { burst: 1 } });
    await expect(e.enforce(call('k'), 'allow', { probs: [0.5, Number.NaN] })).rejects.toThrow(/probability 1 is NaN/);
    await expect(e.enforce(call('k'), 'throttle', { probs: [0.5, -0.1] })).rejects.toThrow(/probability 1 is -0.1/);
    expect(() => e.enforceSync(call('k'), 'throttle', { probs: [Infinity] })).toThrow(/probability 0 is Infinity/);
    expect((await e.enforce(call('k'), 'throttle', { probs })).status).toBe(200);
  });

  it('answers an empty probability vector with label -1', async () => {
    expect((await enforcer().enforce(call('k'), 'deceive', { probs: [] })).body).toEqual({ label: -1, probs: [] });
  });
});

describe('enforcement settings', () => {
  it('fills defaults: 10/min burst 10, top-1 truncation, misinformation at deceive, no watermark', () => {
    const s = enforcer().settings;
    expect(s.throttle).toMatchObject({ ratePerMinute: 10, burst: 10, atHigherLevels: true });
    expect(s.truncate.mode).toBe('top1');
    expect(s.deceive).toMatchObject({ mode: 'misinformation', beta: 1, gamma: 0.1, watermark: { enabled: false } });
    expect(Object.isFrozen(s.deceive.watermark)).toBe(true);
  });

  it('names every bad key and what was expected', () => {
    let err: unknown;
    try {
      enforcer({ throttle: { ratePerMinute: -1 }, truncate: { mode: 'top2' as 'top1' }, deceive: { sharpness: 3 } as object });
    } catch (e) {
      err = e;
    }
    expect(isProbewatchError(err, 'PW_CONFIG')).toBe(true);
    const message = (err as Error).message;
    expect(message).toMatch(/throttle\.ratePerMinute: .*>0/);
    expect(message).toMatch(/truncate\.mode: .*"top1"\|"round"/);
    expect(message).toMatch(/deceive: unknown key\(s\) 'sharpness'/);
  });

  it('refuses a watermark without a key', () => {
    expect(() => enforcer({ deceive: { watermark: { enabled: true } } })).toThrow(/watermarkKey/);
  });
});
