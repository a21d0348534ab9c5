import { describe, expect, it } from 'vitest';
import { DecodedCache } from '../../src/compute/DecodedCache.ts';

describe('DecodedCache', () => {
  const decoder = () => {
    const calls: string[] = [];
    return { calls, decode: (s: string) => () => (calls.push(s), [s]) };
  };

  it('reuses the value saved with the packed string the owner still holds, once', () => {
    const cache = new DecodedCache<object, string[]>();
    const owner = {};
    const { calls, decode } = decoder();
    const saved = ['decoded a'];
    cache.set(owner, 'a', saved);
    expect(cache.get(owner, 'a', decode('a'))).toBe(saved);
    expect(calls).toEqual([]);
    // Taken: a poll that fails before saving again finds nothing.
    expect(cache.get(owner, 'a', decode('a'))).toEqual(['a']);
    expect(calls).toEqual(['a']);
  });

  it('decodes afresh when the packed string changed, the owner is another object, or the value does not fit', () => {
    const cache = new DecodedCache<object, string[]>();
    const owner = {};
    const { calls, decode } = decoder();
    cache.set(owner, 'a', ['old']);
    expect(cache.get(owner, 'b', decode('b'))).toEqual(['b']);
    cache.set(owner, 'a', ['old']);
    expect(cache.get({}, 'a', decode('a'))).toEqual(['a']);
    expect(cache.get(owner, 'a', decode('a2'), (v) => v.length === 2)).toEqual(['a2']);
    expect(calls).toEqual(['b', 'a', 'a2']);
  });
});
