import { deserialize, serialize } from 'node:v8';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { refit } from '../../src/state/refit.ts';

const SHARED = { head: 0, n: 0 };

/** A detector-like fresh state: numbers, strings, a nested record, an optional field, typed arrays, a shared default. */
function fresh() {
  return {
    share: { n: 0, s: 0, e: 0 },
    gaps: undefined as { n: number } | undefined,
    score: 0,
    keys: {} as Record<string, number>,
    rows: new Float32Array(0),
    ring: SHARED,
    last: null as { model: string } | null,
  };
}

describe('refit', () => {
  it('gives back the same data, fresh fields first, then those only the value has', () => {
    const live = { ...fresh(), extra: [1, 2.5], share: { n: 3, s: 0.25, e: 0.5 }, gaps: { n: 2 }, keys: { b: 1, a: 2 }, rows: new Float32Array([1, 2]), last: { model: 'm' } };
    const back = deserialize(serialize(live)) as typeof live;
    const out = refit(fresh, back);
    expect(out).toStrictEqual(live);
    expect(Object.keys(out)).toEqual([...Object.keys(fresh()), 'extra']);
    expect(Object.keys(out.keys)).toEqual(['b', 'a']);
  });

  it('never writes into an object every fresh state shares, nor a frozen one', () => {
    const frozen = Object.freeze({ v: 1 });
    const out = refit(() => ({ ring: SHARED, view: frozen }), { ring: { head: 5, n: 7 }, view: { v: 2 } });
    expect(out).toStrictEqual({ ring: { head: 5, n: 7 }, view: { v: 2 } });
    expect(SHARED).toStrictEqual({ head: 0, n: 0 });
    expect(frozen).toStrictEqual({ v: 1 });
  });

  it('leaves a field the value lacks (an older state) undefined, and keeps an object met twice one object', () => {
    const inner = { n: 1, s: 0.5, e: 0.5 };
    const out = refit(fresh, { share: inner, score: 0.3, other: inner } as unknown as ReturnType<typeof fresh>);
    expect(out.score).toBe(0.3);
    expect(out.gaps).toBeUndefined();
    expect(out.rows).toBeUndefined();
    expect((out as unknown as { other: unknown }).other).toBe(out.share);
  });

  it('keeps an own __proto__ key a property, not the prototype', () => {
    const value = JSON.parse('{"score": 1, "keys": {"__proto__": 4, "k": 1}}');
    const out = refit(fresh, value);
    expect(Object.getPrototypeOf(out.keys)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(out.keys, '__proto__')?.value).toBe(4);
    expect(Object.keys(out.keys)).toEqual(['__proto__', 'k']);
  });

  it('round-trips any JSON-like value exactly', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue(), { noNullPrototype: true }), (extra) => {
        const live = { ...fresh(), ...extra };
        expect(refit(fresh, deserialize(serialize(live)))).toStrictEqual(live);
      }),
    );
  });
});
