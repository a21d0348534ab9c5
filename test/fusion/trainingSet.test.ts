import { describe, expect, it } from 'vitest';
import type { ScoredKey } from '../../src/fusion/ScoredKey.ts';
import { buildTrainingSet, paretoFront } from '../../src/fusion/trainingSet.ts';

function key(name: string, attack: boolean, rows: number[][]): ScoredKey {
  return { key: name, attack, tenant: null, events: rows.length, scores: Float64Array.from(rows.flat()), ts: Float64Array.from(rows, (_, i) => i) };
}

describe('buildTrainingSet', () => {
  it('keeps only the score vectors no other vector of the key dominates, over the feature columns', () => {
    // Columns: [rate, a, b]; features a and b.
    const k = key('k', true, [
      [0.9, 0, 0],
      [0, 0.2, 0.1],
      [0, 0.5, 0.1],
      [0, 0.1, 0.6],
      [1, 0.1, 0.5],
      [0, 0.5, 0.1],
      [0, 0.3, 0.3],
    ]);
    const front = paretoFront(k, 3, [1, 2]);
    expect(front.map((v) => v.join(',')).sort()).toEqual(['0.1,0.6', '0.3,0.3', '0.5,0.1']);
  });

  it('groups rows by key and weighs every key alike within its class and both classes alike', () => {
    const keys = [
      key('a1', true, [[0.9], [0.1]]),
      key('b1', false, [[0.1]]),
      key('b2', false, [[0.2], [0.3], [0.25]]),
      key('b3', false, [[0]]),
      key('empty', true, []),
    ];
    const set = buildTrainingSet(keys, 1, [0]);
    expect(set.keys).toEqual(['a1', 'b1', 'b2', 'b3']);
    expect([...set.keyRows]).toEqual([1, 1, 1, 1]);
    expect([...set.keyStart]).toEqual([0, 1, 2, 3]);
    expect([...set.x]).toEqual([0.9, 0.1, 0.3, 0].map(Math.fround));
    expect([...set.y]).toEqual([1, 0, 0, 0]);
    expect([...set.w].map((w) => +w.toFixed(6))).toEqual([0.5, 1 / 6, 1 / 6, 1 / 6].map((w) => +w.toFixed(6)));
  });
});
