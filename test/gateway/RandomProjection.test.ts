import { createHash, createSecretKey } from 'node:crypto';
import fc from 'fast-check';
import { Matrix, solve } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { PUBLIC_SKETCH_SEED, RandomProjection, mulberry32 } from '../../src/gateway/RandomProjection.ts';

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

  it('keeps the public seed\'s sketches as they were (simulations and benchmarks replay them)', () => {
    expect(new RandomProjection(5, 16).project([1, 2, 3, 4, 5]).slice(0, 4)).toEqual([-1.3450779914855957, -1.926928162574768, 0.9501791000366211, 0.5839632153511047]);
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

/** A deterministic 32-byte test key (never a real secret). */
function testKey(label: string): Buffer {
  return createHash('sha256').update(`probewatch-test-sketch-key ${label}`).digest();
}

/** The matrix as a reader rebuilds it from a projection: column `i` is the sketch of the unit vector eᵢ. */
function matrixOf(p: RandomProjection): Matrix {
  const m = new Matrix(p.width, p.inputDim);
  for (let i = 0; i < p.inputDim; i++) {
    const column = p.project(Array.from({ length: p.inputDim }, (_, k) => (k === i ? 1 : 0)));
    for (let j = 0; j < p.width; j++) m.set(j, i, column[j]);
  }
  return m;
}

/** What a reader of the events tries: the least-squares input behind `sketch` under the matrix it believes in. */
function leastSquaresInput(believed: RandomProjection, sketch: readonly number[]): number[] {
  return solve(matrixOf(believed), Matrix.columnVector([...sketch])).to1DArray();
}

function maxAbsError(a: readonly number[], b: readonly number[]): number {
  return Math.max(...a.map((v, i) => Math.abs(v - b[i])));
}

describe('RandomProjection.keyed', () => {
  it('draws the same matrix and sketches on every gateway with the same key, feature count and width', () => {
    const key = testKey('deployment');
    const a = RandomProjection.keyed(5, 16, key);
    const b = RandomProjection.keyed(5, 16, createSecretKey(key));
    const c = RandomProjection.keyed(5, 16, Buffer.from(key));
    expect(matrixOf(b).to2DArray()).toEqual(matrixOf(a).to2DArray());
    expect(matrixOf(c).to2DArray()).toEqual(matrixOf(a).to2DArray());
    const x = [3.2, 14.5, 6.1, 4.7, 200];
    expect(b.project(x)).toEqual(a.project(x));
    expect(a.seed).toBeUndefined();
  });

  it('projects alike for any key and input, and differently under another key (property)', () => {
    const key = fc.uint8Array({ minLength: 32, maxLength: 64 }).map((k) => Buffer.from(k));
    fc.assert(
      fc.property(key, key, fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 16 }), fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 8, maxLength: 8 }), (k1, k2, dim, width, raw) => {
        const x = raw.slice(0, dim);
        const p = RandomProjection.keyed(dim, width, k1);
        expect(RandomProjection.keyed(dim, width, Buffer.from(k1)).project(x)).toEqual(p.project(x));
        if (!k1.equals(k2)) expect(matrixOf(RandomProjection.keyed(dim, width, k2)).to2DArray()).not.toEqual(matrixOf(p).to2DArray());
      }),
      { numRuns: 200 },
    );
  });

  it('draws another matrix for another feature count or width under one key, and none equal to the public seed’s', () => {
    const key = testKey('deployment');
    const first = (p: RandomProjection) => p.project([1, ...new Array(p.inputDim - 1).fill(0)])[0];
    const firsts = [RandomProjection.keyed(5, 16, key), RandomProjection.keyed(6, 16, key), RandomProjection.keyed(5, 8, key), new RandomProjection(5, 16)].map(
      (p) => first(p) * Math.sqrt(p.width),
    );
    expect(new Set(firsts).size).toBe(firsts.length);
  });

  it('has entries that look standard normal (×1/√width)', () => {
    const width = 16;
    const entries = matrixOf(RandomProjection.keyed(512, width, testKey('normality')))
      .to1DArray()
      .map((v) => v * Math.sqrt(width));
    const n = entries.length;
    const mean = entries.reduce((s, v) => s + v, 0) / n;
    const variance = entries.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
    const within = (z: number) => entries.filter((v) => Math.abs(v) < z).length / n;
    // 8,192 entries: the mean's standard error is 0.011, the variance's 0.016, a share's at most 0.006; the bounds are ≥ 4 of them.
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(variance - 1)).toBeLessThan(0.08);
    expect(Math.abs(within(1) - 0.6827)).toBeLessThan(0.025);
    expect(Math.abs(within(2) - 0.9545)).toBeLessThan(0.015);
  });

  it('keeps distances on average at the default width of 16, like the seeded projection', () => {
    const ratios = squaredRatios(RandomProjection.keyed(100, 16, testKey('distances')), gaussianPoints(30, 100, 8));
    const mean = ratios.reduce((s, r) => s + r, 0) / ratios.length;
    expect(Math.abs(mean - 1)).toBeLessThan(0.2);
  });

  it('refuses a key shorter than 32 bytes without showing it', () => {
    expect(() => RandomProjection.keyed(5, 16, 'short-secret-value')).toThrow(/at least 32 bytes, got 18/);
    expect(() => RandomProjection.keyed(5, 16, 'short-secret-value')).not.toThrow(/short-secret-value/);
  });
});

describe('inverting sketches of fewer features than the width', () => {
  // The example gateway's weather model: precipitation, temp_max, temp_min, wind, day_of_year.
  const weatherDay = fc.tuple(
    fc.double({ min: 0, max: 56, noNaN: true }),
    fc.double({ min: -2, max: 36, noNaN: true }),
    fc.double({ min: -8, max: 19, noNaN: true }),
    fc.double({ min: 0, max: 10, noNaN: true }),
    fc.integer({ min: 1, max: 366 }),
  );

  it('with the public seed, a least-squares solve recovers the input from one sketch (property)', () => {
    const gateway = new RandomProjection(5, 16);
    const reader = new RandomProjection(5, 16, PUBLIC_SKETCH_SEED);
    fc.assert(
      fc.property(weatherDay, (x) => {
        expect(maxAbsError(leastSquaresInput(reader, gateway.project(x)), x)).toBeLessThan(1e-3);
      }),
      { numRuns: 200 },
    );
  });

  it('with a keyed projection, neither the public seed nor a wrong key recovers it', () => {
    const gateway = RandomProjection.keyed(5, 16, testKey('deployment'));
    const x = [3.2, 14.5, 6.1, 4.7, 200];
    const sketch = gateway.project(x);
    // The key holder could invert (which is why the key never leaves the gateways)…
    expect(maxAbsError(leastSquaresInput(gateway, sketch), x)).toBeLessThan(1e-3);
    // …a reader who guesses gets a random point: off by about the input's own norm.
    const guesses = [new RandomProjection(5, 16), ...Array.from({ length: 8 }, (_, g) => RandomProjection.keyed(5, 16, testKey(`guess ${g}`)))];
    for (const believed of guesses) {
      const recovered = leastSquaresInput(believed, sketch);
      expect(maxAbsError(recovered, x)).toBeGreaterThan(1);
      expect(dist(recovered, x) / Math.hypot(...x)).toBeGreaterThan(0.5);
    }
  });

  it('under a key, still falls to a reader who also knows as many of the inputs as there are features (the limit of keying)', () => {
    // A linear map is learnt from inputDim known input/sketch pairs, e.g. a client of the API that also reads the topic:
    // the key stops readers of the topic, not readers who send queries too (the topic's read ACL must do that).
    const gateway = RandomProjection.keyed(5, 16, testKey('deployment'));
    const known = [[1, 2, 3, 4, 5], [0, 10, 2, 1, 100], [20, 30, 15, 3, 200], [5, -1, -5, 7, 300], [0, 25, 10, 9, 50]];
    const sketches = new Matrix(known.map((x) => gateway.project(x)));
    const learnt = solve(new Matrix(known), sketches).transpose(); // width × inputDim, from the pairs alone
    const x = [3.2, 14.5, 6.1, 4.7, 200];
    const recovered = solve(learnt, Matrix.columnVector(gateway.project(x))).to1DArray();
    expect(maxAbsError(recovered, x)).toBeLessThan(1e-2);
  });
});
