import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Compute, MinDistanceJob } from '../../src/compute/Compute.ts';
import { BACKEND_PREFERENCE, createCompute } from '../../src/compute/createCompute.ts';
import { ReferenceCompute } from '../../src/compute/ReferenceCompute.ts';
import { TfCompute } from '../../src/compute/TfCompute.ts';
import { mulberry32 } from '../../src/gateway/RandomProjection.ts';

/** Every backend that starts on this machine (cpu and wasm at least; tfjs-node where installed). */
const backends: Compute[] = [];
const reference = new ReferenceCompute();

beforeAll(async () => {
  for (const name of BACKEND_PREFERENCE) {
    try {
      backends.push(await createCompute(name));
    } catch {
      // not on this machine
    }
  }
});

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
}

function randomMatrix(rand: () => number, rows: number, dim: number, scale = 1, offset = 0): Float32Array {
  const m = new Float32Array(rows * dim);
  for (let k = 0; k < m.length; k++) m[k] = offset + scale * gaussian(rand);
  return m;
}

function randomProbs(rand: () => number, rows: number, width: number): Float32Array {
  const m = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < width; j++) {
      // Peaked rows and exact zeros, as real classifiers and truncation produce.
      const v = rand() < 0.2 ? 0 : Math.exp(3 * gaussian(rand));
      m[r * width + j] = v;
      s += v;
    }
    for (let j = 0; j < width; j++) m[r * width + j] = s > 0 ? m[r * width + j] / s : 1 / width;
  }
  return m;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const a = actual[i];
    if (!Number.isFinite(e)) {
      expect(a, `index ${i}`).toBe(e);
      continue;
    }
    expect(Math.abs(a - e), `index ${i}: ${a} vs ${e}`).toBeLessThanOrEqual(atol + rtol * Math.abs(e));
  }
}

/** A poll's worth of jobs: mixed widths, empty refs, empty queries, repeats, far-from-origin data. */
function pollJobs(seed: number): MinDistanceJob[] {
  const rand = mulberry32(seed);
  const jobs: MinDistanceJob[] = [];
  for (let k = 0; k < 12; k++) {
    const dim = k % 3 === 0 ? 8 : 16;
    const nr = k % 4 === 0 ? 0 : Math.floor(rand() * 300);
    const nq = k === 5 ? 0 : 1 + Math.floor(rand() * 40);
    jobs.push({ dim, refs: randomMatrix(rand, nr, dim), queries: randomMatrix(rand, nq, dim) });
  }
  // Exact repeats of a ref and of an earlier query.
  const refs = randomMatrix(rand, 5, 16);
  const queries = new Float32Array(4 * 16);
  queries.set(refs.subarray(16, 32), 0);
  queries.set(randomMatrix(rand, 1, 16), 16);
  queries.set(queries.subarray(16, 32), 32);
  queries.set(randomMatrix(rand, 1, 16), 48);
  jobs.push({ dim: 16, refs, queries });
  // Far from the origin with a small spread: the matrix form cancels badly without centring.
  jobs.push({ dim: 16, refs: randomMatrix(rand, 50, 16, 0.01, 1e3), queries: randomMatrix(rand, 20, 16, 0.01, 1e3) });
  return jobs;
}

describe('Compute kernels', () => {
  it('start on cpu and wasm at least', () => {
    const names = backends.map((b) => b.backend);
    expect(names).toContain('cpu');
    expect(names).toContain('wasm');
  });

  it('minDistances agrees with the plain-JS reference on every backend, and exact repeats give 0', () => {
    const jobs = pollJobs(7);
    const expected = reference.minDistances(jobs);
    expect(expected[0][0]).toBe(Number.POSITIVE_INFINITY); // no refs: the first query sees nothing
    expect(expected[12][0]).toBe(0);
    expect(expected[12][2]).toBe(0);
    for (const b of backends) {
      const got = b.minDistances(jobs);
      expect(got).toHaveLength(jobs.length);
      got.forEach((d, j) => expectClose(d, expected[j], 1e-5));
      expect(got[12][0]).toBe(0);
      expect(got[12][2]).toBe(0);
    }
    // And with each other, directly: every backend against the first.
    const first = backends[0].minDistances(jobs);
    for (const b of backends.slice(1)) b.minDistances(jobs).forEach((d, j) => expectClose(d, first[j], 1e-5));
  });

  it('names the neighbour it measured: the distance to the returned row is the returned distance', () => {
    const jobs = pollJobs(13);
    for (const b of backends) {
      (b as TfCompute).nearestNeighbours(jobs).forEach(({ distances, indices }, j) => {
        const { refs, queries, dim } = jobs[j];
        const nr = refs.length / dim;
        indices.forEach((k, i) => {
          if (k < 0) return expect(distances[i]).toBe(Number.POSITIVE_INFINITY);
          expect(k).toBeLessThan(nr + i); // an earlier point only
          const other = k < nr ? refs.subarray(k * dim, (k + 1) * dim) : queries.subarray((k - nr) * dim, (k - nr + 1) * dim);
          const own = queries.subarray(i * dim, (i + 1) * dim);
          expect(distances[i]).toBeCloseTo(Math.hypot(...own.map((v, t) => v - other[t])), 5);
        });
      });
    }
  });

  it('minDistances gives the same answer whether a poll runs in one batch or is cut into slices', () => {
    const jobs = pollJobs(11);
    const expected = reference.minDistances(jobs);
    for (const b of backends) {
      const small = new TfCompute(b.backend, { distanceCellBudget: 500 });
      small.minDistances(jobs).forEach((d, j) => expectClose(d, expected[j], 1e-5));
    }
  });

  it('row kernels agree with the reference and with each other on every backend', () => {
    const rand = mulberry32(3);
    for (const width of [1, 2, 3, 10, 100]) {
      const p = randomProbs(rand, 257, width);
      const q = randomProbs(rand, 257, width);
      const h = reference.rowEntropy(p, width);
      const m = reference.topMargin(p, width);
      const js = reference.jsDivergence(p, q, width);
      for (const b of backends) {
        expectClose(b.rowEntropy(p, width), h, 2e-6, 1e-5);
        expectClose(b.topMargin(p, width), m, 1e-7, 0);
        expectClose(b.jsDivergence(p, q, width), js, 2e-6, 1e-5);
      }
    }
  });

  it('row kernels hold at the edges: certain rows, identical rows, disjoint rows', () => {
    const certain = new Float32Array([1, 0, 0, 0]);
    const uniform = new Float32Array([0.25, 0.25, 0.25, 0.25]);
    const other = new Float32Array([0, 0, 0, 1]);
    for (const b of backends) {
      expect(Array.from(b.rowEntropy(certain, 4))).toEqual([0]);
      expect(b.rowEntropy(uniform, 4)[0]).toBeCloseTo(Math.log(4), 6);
      expect(b.jsDivergence(uniform, uniform, 4)[0]).toBeCloseTo(0, 7);
      expect(b.jsDivergence(certain, other, 4)[0]).toBeCloseTo(Math.log(2), 6);
      expect(Array.from(b.topMargin(uniform, 4))).toEqual([0]);
      expect(Array.from(b.topMargin(certain, 4))).toEqual([1]);
      expect(b.rowEntropy(new Float32Array(0), 4)).toHaveLength(0);
      expect(b.minDistances([])).toEqual([]);
    }
  });

  it('leaves no tensors behind', () => {
    const jobs = pollJobs(5);
    const p = randomProbs(mulberry32(1), 20, 5);
    for (const b of backends) {
      b.minDistances(jobs); // warm up: backends may allocate on first use
      const before = tf.memory().numTensors;
      b.minDistances(jobs);
      b.rowEntropy(p, 5);
      b.jsDivergence(p, p, 5);
      b.topMargin(p, 5);
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('rejects malformed matrices with the shape in the message', () => {
    const b = backends[0];
    expect(() => b.rowEntropy(new Float32Array(5), 2)).toThrow(/multiple of width 2/);
    expect(() => b.minDistances([{ dim: 3, refs: new Float32Array(4), queries: new Float32Array(3) }])).toThrow(/refs length 4/);
  });
});
