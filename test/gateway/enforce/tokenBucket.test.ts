import { describe, expect, it } from 'vitest';
import { InMemoryTokenBucket } from '../../../src/gateway/enforce/InMemoryTokenBucket.ts';
import { type BucketState, takeToken } from '../../../src/gateway/enforce/takeToken.ts';

const T0 = 1_700_000_000_000;

/** Runs takes at the given times on one state, returning each result. */
function run(times: readonly number[], rate: number, burst: number) {
  let state: BucketState | undefined;
  return times.map((now) => {
    const step = takeToken(state, now, rate, burst);
    state = step.state;
    return step.result;
  });
}

describe('takeToken', () => {
  it('lets a new key spend its burst at once, then refuses with the wait for one token', () => {
    const results = run(new Array(11).fill(T0), 10, 10);
    expect(results.slice(0, 10).every((r) => r.allowed && r.retryAfterMs === 0)).toBe(true);
    expect(results[10]).toEqual({ allowed: false, retryAfterMs: 6000 });
  });

  it('refills at the rate: one token per 60/rate seconds, not before', () => {
    const burst = new Array(3).fill(T0);
    const results = run([...burst, T0 + 5_999, T0 + 6_000, T0 + 6_001], 10, 3);
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false, true, false]);
    // After the refused call at +5999 (tokens 5999/6000), one more ms is missing … then the token at +6000 is spent.
    expect(results[3].retryAfterMs).toBe(1);
    expect(results[5].retryAfterMs).toBe(5_999);
  });

  it('never holds more than the burst after a long idle time', () => {
    const results = run([T0, T0 + 3_600_000, T0 + 3_600_000, T0 + 3_600_000, T0 + 3_600_000], 60, 3);
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, true, false]);
  });

  it('refills nothing when the clock goes back, and keeps the later time', () => {
    const first = takeToken(undefined, T0, 60, 1);
    expect(first.result.allowed).toBe(true);
    const back = takeToken(first.state, T0 - 10_000, 60, 1);
    expect(back.result).toEqual({ allowed: false, retryAfterMs: 1000 });
    expect(back.state.ts).toBe(T0);
  });

  it('handles fractional rates with a whole-millisecond wait', () => {
    const results = run([T0, T0], 7, 1);
    expect(results[1]).toEqual({ allowed: false, retryAfterMs: Math.ceil(60000 / 7) });
  });
});

describe('InMemoryTokenBucket', () => {
  it('keeps one bucket per key, and take() answers as takeSync() does', async () => {
    const a = new InMemoryTokenBucket();
    const b = new InMemoryTokenBucket();
    for (let i = 0; i < 4; i++) {
      const sync = a.takeSync('k1', T0, 10, 3);
      expect(await b.take('k1', T0, 10, 3)).toEqual(sync);
    }
    expect(a.takeSync('k1', T0, 10, 3).allowed).toBe(false);
    expect(a.takeSync('k2', T0, 10, 3).allowed).toBe(true);
  });

  it('forgets only buckets that have refilled completely when over maxKeys', () => {
    const bucket = new InMemoryTokenBucket({ maxKeys: 2 });
    bucket.takeSync('idle-1', T0 - 120_000, 60, 1);
    bucket.takeSync('idle-2', T0 - 120_000, 60, 1);
    bucket.takeSync('busy', T0, 60, 1);
    expect(bucket.size).toBe(1);
    // The busy key was not forgotten: it is still empty.
    expect(bucket.takeSync('busy', T0, 60, 1).allowed).toBe(false);
  });
});
