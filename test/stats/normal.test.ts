import { describe, expect, it } from 'vitest';
import { normalCdf, normalQuantile, normalUpperTail } from '../../src/stats/normal.ts';

// Reference values: R's pnorm(z, lower.tail = FALSE) and qnorm(p), which
// SciPy's ndtr/ndtri reproduce digit for digit (checked with SciPy 1.17.1 on
// this machine); the familiar ones (Φ(1), z₀.₉₇₅ = 1.959964) match printed tables.
describe('standard normal', () => {
  it('tail probabilities keep their relative accuracy far out', () => {
    const cases: [number, number][] = [
      [0, 0.5],
      [1, 0.15865525393145707],
      [1.959963984540054, 0.025],
      [3, 0.0013498980316300933],
      [5, 2.866515718791933e-7],
      [8, 6.22096057427174e-16],
      [20, 2.7536241186061556e-89],
    ];
    for (const [z, q] of cases) expect(Math.abs(normalUpperTail(z) - q) / q).toBeLessThan(1e-12);
    expect(normalCdf(-1)).toBeCloseTo(0.15865525393145707, 15);
  });

  it('quantiles are accurate to double precision and invert the CDF', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 13);
    expect(normalQuantile(0.1)).toBeCloseTo(-1.2815515655446004, 13);
    expect(normalQuantile(0.5)).toBe(0);
    expect(normalQuantile(1e-20)).toBeCloseTo(-9.262340089798408, 11);
    for (const p of [1e-10, 0.001, 0.02425, 0.3, 0.77, 0.999]) {
      expect(Math.abs(normalCdf(normalQuantile(p)) - p) / Math.min(p, 1 - p)).toBeLessThan(1e-12);
    }
    expect(normalQuantile(0)).toBe(Number.NEGATIVE_INFINITY);
    expect(normalQuantile(1.5)).toBeNaN();
  });
});
