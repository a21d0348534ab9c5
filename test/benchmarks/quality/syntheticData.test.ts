import { describe, expect, it } from 'vitest';
import { drawPrior, exactCounts, syntheticData } from '../../../benchmarks/quality/data/syntheticData.ts';
import type { LabelledRecord } from '../../../benchmarks/quality/data/LabelledRecord.ts';
import { Rng } from '../../../benchmarks/quality/Rng.ts';

function shares(records: readonly LabelledRecord[], k: number): number[] {
  const s = new Array<number>(k).fill(0);
  for (const r of records) s[r.label] += 1 / records.length;
  return s;
}

function columnsStandardised(rows: readonly number[][]): number[][] {
  const d = rows[0].length;
  const n = rows.length;
  return Array.from({ length: d }, (_, j) => {
    const v = rows.map((r) => r[j]);
    const m = v.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / n) || 1;
    return v.map((x) => (x - m) / sd);
  });
}

/** Mean absolute correlation over all feature pairs. */
function meanAbsCorrelation(rows: readonly number[][]): number {
  const cols = columnsStandardised(rows);
  let sum = 0;
  let pairs = 0;
  for (let a = 0; a < cols.length; a++) {
    for (let b = a + 1; b < cols.length; b++) {
      sum += Math.abs(cols[a].reduce((s, v, i) => s + v * cols[b][i], 0) / rows.length);
      pairs++;
    }
  }
  return sum / pairs;
}

describe('synthetic worlds', () => {
  it('has exactly the prior asked for with mixture labels (70/20/10)', () => {
    const s = syntheticData({ seed: 5, prior: [0.7, 0.2, 0.1], labels: 'mixture', features: 24 });
    expect(s.classes).toHaveLength(3);
    expect(s.features).toHaveLength(24);
    expect(s.home).toHaveLength(2000);
    expect(shares(s.home, 3).map((v) => Number(v.toFixed(3)))).toEqual([0.7, 0.2, 0.1]);
    for (const r of [...s.home, ...s.foreign]) expect(r.raw).toHaveLength(24);
  });

  it('fits a random teacher to the prior asked for (95/5, 70/20/10)', () => {
    for (const prior of [[0.95, 0.05], [0.7, 0.2, 0.1]]) {
      const s = syntheticData({ seed: 9, prior, labels: 'teacher' });
      const got = shares(s.home, prior.length);
      prior.forEach((p, c) => expect(Math.abs(got[c] - p)).toBeLessThan(0.02));
    }
  });

  it('draws near-uniform, skewed and balanced priors as named', () => {
    const rng = new Rng(3);
    for (let k = 2; k <= 10; k++) {
      const near = drawPrior('near-uniform', k, rng);
      expect(Math.max(...near) / Math.min(...near)).toBeLessThan(1.4);
      const skewed = drawPrior('skewed', k, rng);
      expect(Math.max(...skewed)).toBeGreaterThanOrEqual(0.55);
      expect(drawPrior('balanced', k, rng)).toEqual(new Array(k).fill(1 / k));
      for (const p of [near, skewed, drawPrior('dirichlet', k, rng)]) expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    }
    expect(exactCounts([0.7, 0.2, 0.1], 7)).toEqual([5, 1, 1]);
    expect(exactCounts([1 / 3, 1 / 3, 1 / 3], 100).reduce((a, b) => a + b, 0)).toBe(100);
  });

  it('draws 2–10 classes and 4–64 correlated raw features from the seed, each class present', () => {
    const widths = new Set<number>();
    for (let seed = 1; seed <= 10; seed++) {
      const s = syntheticData({ seed, rows: 800, foreignRows: 200 });
      expect(s.classes.length).toBeGreaterThanOrEqual(2);
      expect(s.classes.length).toBeLessThanOrEqual(10);
      expect(s.features.length).toBeGreaterThanOrEqual(4);
      expect(s.features.length).toBeLessThanOrEqual(64);
      expect(s.resolution).toHaveLength(s.features.length);
      expect(new Set(s.home.map((r) => r.label)).size).toBe(s.classes.length);
      widths.add(s.features.length);
      // Independent features would give about sqrt(2/(π·800)) ≈ 0.03.
      expect(meanAbsCorrelation(s.home.map((r) => r.raw))).toBeGreaterThan(0.1);
    }
    expect(widths.size).toBeGreaterThan(3);
  });

  it('rounds raw values to each feature resolution', () => {
    const s = syntheticData({ seed: 2, features: 8, rows: 300, foreignRows: 50 });
    for (const r of s.home) {
      r.raw.forEach((v, j) => expect(Math.abs(v / s.resolution[j] - Math.round(v / s.resolution[j]))).toBeLessThan(1e-6));
    }
  });

  it('shifts the foreign rows away from the home rows', () => {
    const s = syntheticData({ seed: 4, features: 12 });
    const cols = columnsStandardised(s.home.map((r) => r.raw));
    const home = s.home.map((r) => r.raw);
    const mean = (rows: number[][], j: number) => rows.reduce((a, r) => a + r[j], 0) / rows.length;
    const sd = cols.map((_, j) => Math.sqrt(home.reduce((a, r) => a + (r[j] - mean(home, j)) ** 2, 0) / home.length));
    const foreign = s.foreign.map((r) => r.raw);
    const gap = Math.sqrt(cols.reduce((a, _, j) => a + ((mean(foreign, j) - mean(home, j)) / sd[j]) ** 2, 0));
    expect(gap).toBeGreaterThan(0.5);
  });

  it('is the same world for the same seed and another for another seed', () => {
    const a = syntheticData({ seed: 11, rows: 300, foreignRows: 50 });
    const b = syntheticData({ seed: 11, rows: 300, foreignRows: 50 });
    const c = syntheticData({ seed: 12, rows: 300, foreignRows: 50 });
    expect(b).toEqual(a);
    expect(c.home.map((r) => r.raw)).not.toEqual(a.home.map((r) => r.raw));
  });

  it('refuses structures outside the family with a message naming the option', () => {
    expect(() => syntheticData({ seed: 1, classes: 11 })).toThrow(/classes must be an integer in \[2, 10\]/);
    expect(() => syntheticData({ seed: 1, features: 3 })).toThrow(/features must be an integer in \[4, 64\]/);
    expect(() => syntheticData({ seed: 1, prior: [0.5, 0, 0.5] })).toThrow(/prior must be/);
  });
});
