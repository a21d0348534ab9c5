import { describe, expect, it } from 'vitest';
import { createNeighbourhood, NeighbourIndex } from '../../src/baselines/NeighbourIndex.ts';
import { mulberry32 } from '../../src/gateway/RandomProjection.ts';

/** The float64 sum the index computes, in row order. */
function dist2(rows: Float32Array, i: number, stride: number, x: ArrayLike<number>, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) {
    const d = rows[i * stride + j] - x[j];
    s += d * d;
  }
  return s;
}

function world(seed: number, n: number, dim: number, stride: number, coarse: boolean) {
  const rand = mulberry32(seed);
  // Coarse values make exact ties and repeats, where a wrong tie-break or a pruned equal row would show.
  const value = () => (coarse ? Math.round(rand() * 6) / 2 : rand() * 4 - 2 + (rand() < 0.3 ? 3 : 0));
  const rows = new Float32Array(n * stride);
  const owners = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) rows[i * stride + j] = value();
    owners[i] = 1 + Math.floor(rand() * 5);
  }
  const query = () => Float64Array.from({ length: dim }, () => Math.fround(value()));
  return { rows, owners, query, rand };
}

describe('NeighbourIndex', () => {
  it.each([
    [1, 300, 8, false],
    [2, 200, 4, true],
    [3, 50, 2, true],
  ])('answers k-nearest questions exactly as a full scan (seed %i, %i rows, %i dims, coarse %s)', (seed, n, dim, coarse) => {
    const stride = dim + 3;
    const { rows, owners, query, rand } = world(seed, n, dim, stride, coarse);
    const index = new NeighbourIndex(rows, n, dim, stride, owners);
    for (let q = 0; q < 200; q++) {
      const x = query();
      const k = 1 + Math.floor(rand() * 20);
      const bound2 = rand() < 0.2 ? Number.POSITIVE_INFINITY : rand() * 4;
      const skip = rand() < 0.5 ? 0 : 1 + Math.floor(rand() * 5);
      const got = index.nearest(x, k, bound2, skip, createNeighbourhood(k));
      const all = Array.from({ length: n }, (_, i) => ({ i, d: dist2(rows, i, stride, x, dim) }))
        .filter((r) => r.d <= bound2 && (skip === 0 || owners[r.i] !== skip))
        .sort((a, b) => a.d - b.d || a.i - b.i)
        .slice(0, k);
      expect(got.count).toBe(all.length);
      expect(Array.from(got.idx.subarray(0, got.count))).toEqual(all.map((r) => r.i));
      expect(Array.from(got.d2.subarray(0, got.count))).toEqual(all.map((r) => r.d));
    }
  });

  it('answers radius questions exactly as a full scan, with and without leaving the query out', () => {
    const dim = 6;
    const stride = dim + 7;
    const { rows, query, rand } = world(4, 256, dim, stride, true);
    const index = new NeighbourIndex(rows, 256, dim, stride);
    let near = 0;
    for (let q = 0; q < 400; q++) {
      // Half the questions ask about a member itself (distance 0 to it).
      const member = Math.floor(rand() * 256);
      const asked = rand() < 0.5 ? query() : Float64Array.from({ length: dim }, (_, j) => rows[member * stride + j]);
      const radius = rand() * 1.5;
      for (const leaveOut of [false, true]) {
        let expected = true;
        for (let i = 0; i < 256; i++) {
          const d = dist2(rows, i, stride, asked, dim);
          if (Math.sqrt(d) <= radius && !(leaveOut && d === 0)) expected = false;
        }
        expect(index.fartherThan(asked, radius, leaveOut)).toBe(expected);
        if (!expected) near++;
      }
    }
    expect(near).toBeGreaterThan(100); // both answers occur
    expect(new NeighbourIndex(new Float32Array(0), 0, dim, stride).fartherThan(query(), 1)).toBe(true);
  });
});
