import { describe, expect, it } from 'vitest';
import { KeyPauses } from '../../src/state/KeyPauses.ts';

const MIN = 60_000;

describe('KeyPauses', () => {
  it('packs a key that never paused past packAfterIdleMs at packAfterIdleMs', () => {
    const pauses = new KeyPauses(10 * MIN);
    pauses.note('a', 9 * MIN);
    expect(pauses.packAfter('a')).toBe(10 * MIN);
    expect(pauses.packAfter('never-seen')).toBe(10 * MIN);
    expect(pauses.size).toBe(0);
  });

  it('packs a key that paused past it before only once quiet four times its usual pause, halving towards each new one', () => {
    const pauses = new KeyPauses(10 * MIN);
    pauses.note('a', 15 * MIN);
    expect(pauses.packAfter('a')).toBe(60 * MIN);
    pauses.note('a', 25 * MIN);
    expect(pauses.packAfter('a')).toBe(80 * MIN);
    // Never sooner than packAfterIdleMs, never later than 16 times it.
    pauses.note('b', 10 * MIN + 1);
    expect(pauses.packAfter('b')).toBe(40 * MIN + 4);
    pauses.note('c', 24 * 60 * MIN);
    expect(pauses.packAfter('c')).toBe(160 * MIN);
  });

  it('forgets a key, and records nothing when packing is off', () => {
    const pauses = new KeyPauses(10 * MIN);
    pauses.note('a', 30 * MIN);
    pauses.forget('a');
    expect(pauses.packAfter('a')).toBe(10 * MIN);
    const off = new KeyPauses(0);
    off.note('a', 30 * MIN);
    expect(off.size).toBe(0);
  });
});
