import { describe, expect, it } from 'vitest';
import { splitByKey } from '../../src/fusion/splitByKey.ts';

const labels = new Map<string, boolean>([
  ...Array.from({ length: 10 }, (_, i) => [`attack-${i}`, true] as [string, boolean]),
  ...Array.from({ length: 30 }, (_, i) => [`user-${i}`, false] as [string, boolean]),
]);

describe('splitByKey', () => {
  it('puts each key on exactly one side, stratified by class', () => {
    const { train, heldOut } = splitByKey(labels, 0.3, 7);
    expect([...train, ...heldOut].sort()).toEqual([...labels.keys()].sort());
    expect(new Set([...train, ...heldOut]).size).toBe(labels.size);
    expect(heldOut.filter((k) => labels.get(k)).length).toBe(3);
    expect(heldOut.filter((k) => !labels.get(k)).length).toBe(9);
  });

  it('is deterministic from the seed, not from the order of the labels', () => {
    const reversed = new Map([...labels].reverse());
    expect(splitByKey(reversed, 0.3, 7)).toEqual(splitByKey(labels, 0.3, 7));
    const others = [1, 2, 3].map((seed) => splitByKey(labels, 0.3, seed).heldOut.join());
    expect(new Set([...others, splitByKey(labels, 0.3, 7).heldOut.join()]).size).toBeGreaterThan(1);
  });

  it('holds out at least one key of a class when asked to, and always leaves one to train on', () => {
    const small = new Map([
      ['a', true],
      ['b', true],
      ['c', false],
    ]);
    expect(splitByKey(small, 0.1, 1).heldOut.filter((k) => small.get(k))).toHaveLength(1);
    expect(splitByKey(small, 0.9, 1).train).toContain('c');
    expect(splitByKey(small, 0, 1).heldOut).toEqual([]);
  });
});
