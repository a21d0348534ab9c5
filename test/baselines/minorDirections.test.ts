import { describe, expect, it } from 'vitest';
import { minorDirections } from '../../src/baselines/minorDirections.ts';
import { mulberry32 } from '../../src/gateway/RandomProjection.ts';

const rand = mulberry32(3);
const gauss = () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());

/** `n` members in 4 coordinates with standard deviations 3, 2, 0.1 and exactly 0. */
function members(n: number): number[][] {
  return Array.from({ length: n }, () => [3 * gauss(), 2 * gauss(), 0.1 * gauss(), 0]);
}

describe('minorDirections', () => {
  const rows = members(400);
  const owners = new Uint32Array(400);
  const minor = minorDirections(rows.length, 4, (i, j) => rows[i][j], owners, 0.9)!;

  it('takes the directions past the first 90% of the variance, leaving out the null one', () => {
    expect(minor.rank).toBe(3);
    expect(minor.count).toBe(1);
    expect(minor.share).toBeGreaterThan(0.0003);
    expect(minor.share).toBeLessThan(0.002);
  });

  it('whitens: the members average an energy of about 1, a step along the minor direction is many times that, one along the span or the null direction is not', () => {
    const mean = minor.sorted.reduce((a, b) => a + b, 0) / minor.sorted.length;
    expect(mean).toBeCloseTo(1, 1);
    expect(minor.energy([0, 0, 1, 0])).toBeGreaterThan(50);
    expect(minor.energy([3, -2, 0, 0])).toBeLessThan(1);
    expect(minor.energy([0, 0, 0, 5])).toBeLessThan(1);
    expect(minor.apart([0, 0, 0.5, 0], 0, [0, 0, -0.5, 0], 0)).toBeGreaterThan(50);
    expect(minor.energy([0, 0, 1])).toBeNaN();
    expect(minor.energy([0, 0, Number.NaN, 0])).toBeNaN();
  });

  it('sets a key’s threshold without the members it fed', () => {
    // 20 members of one key (5%) far out along the minor direction own the top of the energies.
    const poisoned = [...rows.slice(0, 380), ...Array.from({ length: 20 }, () => [3 * gauss(), 2 * gauss(), 1 + gauss() * 0.1, 0])];
    const keys = Uint32Array.from(poisoned, (_, i) => (i >= 380 ? 7 : 1 + (i % 50)));
    const m = minorDirections(poisoned.length, 4, (i, j) => poisoned[i][j], keys, 0.9)!;
    expect(m.quantileWithout(0.99, 7)).toBeLessThan(m.quantile(0.99) / 2);
    expect(m.quantileWithout(0.99, 0)).toBe(m.quantile(0.99));
    expect(m.quantileWithout(0.99, 12345)).toBe(m.quantile(0.99));
  });

  it('has no minor directions with too few members or when the span takes everything', () => {
    expect(minorDirections(4, 4, (i, j) => rows[i][j], owners, 0.9)).toBeNull();
    const line = Array.from({ length: 50 }, () => [gauss(), 0, 0, 0]);
    expect(minorDirections(50, 4, (i, j) => line[i][j], owners, 0.9)).toBeNull();
  });
});
