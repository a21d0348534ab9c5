import { describe, expect, it } from 'vitest';
import { addToWindow, createWindow, windowCount } from '../../src/state/SlidingWindowCounter.ts';
import { ipPrefix } from '../../src/state/ipPrefix.ts';

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
