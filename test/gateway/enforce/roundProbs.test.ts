import { describe, expect, it } from 'vitest';
import { roundProbs } from '../../../src/gateway/enforce/truncateProbs.ts';
import { argmaxOf, randomProbVectors, sum } from './helpers.ts';

describe('roundProbs', () => {
  it('rounds to the grid, sums to 1 and keeps the top-1 strictly on top', () => {
    for (const decimals of [0, 1, 2, 3]) {
      for (const p of randomProbVectors(300, 5, decimals + 1)) {
        const q = roundProbs(p, decimals);
        expect(sum(q)).toBeCloseTo(1, 12);
        for (const v of q) expect(Math.abs(v * 10 ** decimals - Math.round(v * 10 ** decimals))).toBeLessThan(1e-9);
        const top = argmaxOf(p);
        expect(q.filter((v, i) => i !== top && v >= q[top])).toEqual([]);
      }
    }
  });

  it('breaks a tie that plain rounding would create in favour of the model top-1', () => {
    // Largest remainders give 0.3, 0.3, 0.2, 0.2: the runner-up would tie the top.
    expect(roundProbs([0.26, 0.25, 0.25, 0.24], 1)).toEqual([0.4, 0.2, 0.2, 0.2]);
    // 0.36 / 0.35 / 0.29: rounding each to one decimal independently would put class 1 level with class 0.
    expect(roundProbs([0.36, 0.35, 0.29], 1)).toEqual([0.4, 0.3, 0.3]);
  });

  it('stays within half a grid unit of each probability when no tie needs breaking', () => {
    const p = [0.6234, 0.2511, 0.1255];
    expect(roundProbs(p, 2)).toEqual([0.62, 0.25, 0.13]);
  });

  it('is one-hot at 0 decimals', () => {
    expect(roundProbs([0.2, 0.45, 0.35], 0)).toEqual([0, 1, 0]);
  });
});
