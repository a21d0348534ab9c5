import { describe, expect, it } from 'vitest';
import { addToWindow, createWindow, windowCount } from '../../src/state/SlidingWindowCounter.ts';
import { ipPrefix } from '../../src/state/ipPrefix.ts';
import { decodeSection, encodeSection } from '../../src/state/SnapshotCodec.ts';
import type { WindowCounter } from '../../src/state/SlidingWindowCounter.ts';

describe('SlidingWindowCounter', () => {
  it('counts events inside the window and forgets older ones', () => {
    const w = createWindow(60_000, 60);
    for (let i = 0; i < 120; i++) addToWindow(w, i * 1000); // one per second for two minutes
    expect(windowCount(w, 119_000)).toBe(60);
    expect(windowCount(w, 150_000)).toBe(29);
    expect(windowCount(w, 500_000)).toBe(0);
  });

  it('places a late event in its own bucket and drops one older than the window', () => {
    const w = createWindow(60_000, 60);
    addToWindow(w, 100_000);
    expect(addToWindow(w, 90_000)).toBe(2);
    expect(addToWindow(w, 10_000)).toBe(2);
  });

  it('survives a JSON round trip', () => {
    const w = createWindow(3_600_000, 60);
    for (let i = 0; i < 10; i++) addToWindow(w, i * 120_000);
    const copy = JSON.parse(JSON.stringify(w));
    expect(addToWindow(copy, 1_300_000)).toBe(addToWindow(w, 1_300_000));
  });

  /** Counts by brute force: the accepted events' bucket indices, and the newest index seen. */
  function bruteForce(bucketMs: number, n: number) {
    const kept: number[] = [];
    let head = -1;
    return (ts: number): number => {
      const index = Math.floor(ts / bucketMs);
      head = Math.max(head, index);
      if (head - index < n) kept.push(index);
      return kept.filter((i) => i > head - n).length;
    };
  }

  /** Event times mostly moving forward, with gaps of several windows and late events. */
  function times(seed: number, count: number, bucketMs: number, n: number): number[] {
    let s = seed;
    const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const out: number[] = [];
    let t = 0;
    for (let i = 0; i < count; i++) {
      const r = rnd();
      if (r < 0.6) t += Math.floor(rnd() * bucketMs * 2);
      else if (r < 0.61) t += Math.floor(rnd() * bucketMs * n * 3);
      out.push(r > 0.9 ? Math.max(0, t - Math.floor(rnd() * bucketMs * n * 1.5)) : t);
    }
    return out;
  }

  it('counts as brute force does while it goes from sparse to dense and back', () => {
    for (const [n, bucketMs] of [[60, 1_000], [30, 5], [7, 100], [1, 50]]) {
      let dense = 0;
      for (let seed = 1; seed <= 20; seed++) {
        const w = createWindow(n * bucketMs, n);
        const ref = bruteForce(bucketMs, n);
        for (const ts of times(seed, 400, bucketMs, n)) {
          expect(addToWindow(w, ts)).toBe(ref(ts));
          expect(w.counts.length <= n).toBe(true);
          if (w.counts.length === n) dense++;
        }
      }
      if (n > 1) expect(dense).toBeGreaterThan(0);
    }
  });

  it('keeps an idle window sparse, and continues an older snapshot (always dense, no bucket count) the same', () => {
    const w = createWindow(60_000, 60);
    addToWindow(w, 1_000);
    addToWindow(w, 5_500);
    expect(w.counts).toEqual([1, 1, 5, 1]);
    const old = { bucketMs: 1_000, counts: new Array(60).fill(0), head: 5, total: 2 };
    old.counts[1] = 1;
    old.counts[5] = 1;
    const copy = JSON.parse(JSON.stringify(w));
    for (const ts of times(3, 300, 1_000, 60).map((t) => t + 6_000)) {
      const count = addToWindow(w, ts);
      expect(addToWindow(old, ts)).toBe(count);
      expect(addToWindow(copy, ts)).toBe(count);
    }
  });

  it('holds a dense window of 32 buckets or more in a Uint32Array, through a snapshot section too, and a count no Uint32Array holds in a plain one', () => {
    for (const [n, typed] of [[60, true], [32, true], [30, false]] as const) {
      const w = createWindow(n * 1_000, n);
      const ref = bruteForce(1_000, n);
      let snapped = false;
      let wc: WindowCounter = w;
      for (const ts of times(5, 400, 1_000, n)) {
        expect(addToWindow(wc, ts)).toBe(ref(ts));
        if (wc.counts.length === n) {
          expect(wc.counts instanceof Uint32Array).toBe(typed);
          if (!snapped) {
            wc = decodeSection(encodeSection(wc)) as WindowCounter;
            expect(wc.counts instanceof Uint32Array).toBe(typed);
            snapped = true;
          }
        }
      }
      expect(snapped).toBe(true);
    }
    const w = createWindow(60_000, 60);
    for (let i = 0; i < 60; i++) addToWindow(w, i * 1_000);
    expect(w.counts).toBeInstanceOf(Uint32Array);
    expect(addToWindow(w, 59_000, 2 ** 32)).toBe(60 + 2 ** 32);
    expect(Array.isArray(w.counts)).toBe(true);
    expect(addToWindow(w, 59_500, 0.5)).toBe(60.5 + 2 ** 32);
    expect(windowCount(w, 61_000)).toBe(58.5 + 2 ** 32);
  });
});

describe('ipPrefix', () => {
  it.each([
    ['203.0.113.77', '203.0.113.0/24'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::ffff:198.51.100.9', '198.51.100.0/24'],
    ['not-an-ip', null],
    [null, null],
  ])('%s → %s', (ip, prefix) => {
    expect(ipPrefix(ip)).toBe(prefix);
  });
});
