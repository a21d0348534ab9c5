import { describe, expect, it } from 'vitest';
import { flatStrings } from '../../src/state/flatStrings.ts';

describe('flatStrings', () => {
  it('gives the same strings in a list of its own, and a frozen list as it is', () => {
    const pushed: string[] = [];
    for (let i = 0; i < 3; i++) pushed.push(`sentence ${i}: ` + 'x'.repeat(i) + ` of ${i * 2}`);
    const flat = flatStrings(pushed);
    expect(flat).toEqual(pushed);
    expect(flat).not.toBe(pushed);
    const frozen = Object.freeze(['a', 'b']);
    expect(flatStrings(frozen)).toBe(frozen);
  });
});
