import { describe, expect, it } from 'vitest';
import { median, percentile } from '../../../benchmarks/utils/timing.ts';

describe('percentile (nearest rank)', () => {
  it('returns a value of the sample at the rank ceil(p/100 · n)', () => {
    const xs = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 90)).toBe(9);
    expect(percentile(xs, 99)).toBe(10);
    expect(percentile(xs, 100)).toBe(10);
    expect(percentile(xs, 0)).toBe(1);
  });

  it('p99 of 1..1000 is 990, and the sample is left unsorted', () => {
    const xs = Array.from({ length: 1000 }, (_, i) => 1000 - i);
    expect(percentile(xs, 99)).toBe(990);
    expect(xs[0]).toBe(1000);
  });

  it('is NaN for an empty sample, like median', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(median([])).toBeNaN();
  });
});
