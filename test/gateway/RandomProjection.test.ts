import { describe, expect, it } from 'vitest';
import { RandomProjection, mulberry32 } from '../../src/gateway/RandomProjection.ts';

function gaussianPoints(n: number, dim: number, seed: number): number[][] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () =>
    Array.from({ length: dim }, () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand())),
  );
}

function dist(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

/** Squared-distance ratios ‖Pa − Pb‖² / ‖a − b‖² over every pair of `points`. */
function squaredRatios(p: RandomProjection, points: number[][]): number[] {
  const sketches = points.map((x) => p.project(x));
  const out: number[] = [];
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) out.push(dist(sketches[i], sketches[j]) ** 2 / dist(points[i], points[j]) ** 2);
  }
  return out;
}

describe('RandomProjection', () => {
  it('has a fixed width whatever the input', () => {
    const p = new RandomProjection(40, 12, 5);
    for (const x of gaussianPoints(5, 40, 1)) expect(p.project(x)).toHaveLength(12);
    expect(new RandomProjection(40).project(new Array(40).fill(1))).toHaveLength(16);
  });

  it('is deterministic per seed: two gateways with one seed project alike, another seed does not', () => {
    const [x] = gaussianPoints(1, 64, 3);
    const a = new RandomProjection(64, 16, 42).project(x);
    const b = new RandomProjection(64, 16, 42).project(x);
    const c = new RandomProjection(64, 16, 43).project(x);
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
  });

  it('is linear and rounds to float32, the wire type', () => {
    const p = new RandomProjection(8, 4, 9);
    const [x, y] = gaussianPoints(2, 8, 11);
    const sum = p.project(x.map((v, i) => v + y[i]));
    const parts = [p.project(x), p.project(y)];
    sum.forEach((v, i) => expect(v).toBeCloseTo(parts[0][i] + parts[1][i], 4));
    for (const v of sum) expect(Math.fround(v)).toBe(v);
  });

  it('refuses features of another width', () => {
    expect(() => new RandomProjection(10, 4).project([1, 2, 3])).toThrow(RangeError);
  });

  it('keeps pairwise distances within the Johnson–Lindenstrauss factor on random data', () => {
    // JL (Dasgupta & Gupta 2003): k >= 4 ln n / (ε²/2 − ε³/3) keeps every pair of n points within (1 ± ε) in squared distance
    // with probability >= 1 − 1/n. Solve for the smallest ε that the width k guarantees.
    const n = 40;
    const dim = 512;
    const k = 192;
    let eps = 0.01;
    while (4 * Math.log(n) / (eps ** 2 / 2 - eps ** 3 / 3) > k) eps += 0.005;
    const ratios = squaredRatios(new RandomProjection(dim, k, 2024), gaussianPoints(n, dim, 7));
    expect(Math.min(...ratios)).toBeGreaterThanOrEqual(1 - eps);
    expect(Math.max(...ratios)).toBeLessThanOrEqual(1 + eps);
    // The projection is unbiased: E‖Px‖² = ‖x‖², so the mean ratio sits near 1 (standard error ≈ sqrt(2/k/pairs)).
    const mean = ratios.reduce((s, r) => s + r, 0) / ratios.length;
    expect(Math.abs(mean - 1)).toBeLessThan(0.1);
  });

  it('keeps distances on average at the default width of 16', () => {
    const ratios = squaredRatios(new RandomProjection(100, 16, 77), gaussianPoints(30, 100, 8));
    const mean = ratios.reduce((s, r) => s + r, 0) / ratios.length;
    // With k = 16 each squared ratio is χ²₁₆/16 (sd ≈ 0.35); the mean over 435 pairs is tight around 1.
    expect(Math.abs(mean - 1)).toBeLessThan(0.2);
  });
});
