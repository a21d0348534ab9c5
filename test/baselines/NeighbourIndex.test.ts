import fc from 'fast-check';
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

/** The full scan the index must equal: rows within `bound2` not owned by `skip`, by distance then row index, the first `k`. */
function bruteNearest(rows: Float32Array, owners: Uint32Array, n: number, stride: number, x: ArrayLike<number>, dim: number, k: number, bound2: number, skip: number) {
  return Array.from({ length: n }, (_, i) => ({ i, d: dist2(rows, i, stride, x, dim) }))
    .filter((r) => r.d <= bound2 && (skip === 0 || owners[r.i] !== skip))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .slice(0, k);
}

/** Whether a full scan finds a row within `radius` (leaving rows at distance 0 out with `leaveOut`). */
function bruteWithin(rows: Float32Array, n: number, stride: number, x: ArrayLike<number>, dim: number, radius: number, leaveOut: boolean): boolean {
  for (let i = 0; i < n; i++) {
    const d = dist2(rows, i, stride, x, dim);
    if (Math.sqrt(d) <= radius && !(leaveOut && d === 0)) return true;
  }
  return false;
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
      const all = bruteNearest(rows, owners, n, stride, x, dim, k, bound2, skip);
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
        const expected = !bruteWithin(rows, 256, stride, asked, dim, radius, leaveOut);
        expect(index.fartherThan(asked, radius, leaveOut)).toBe(expected);
        if (!expected) near++;
      }
    }
    expect(near).toBeGreaterThan(100); // both answers occur
    expect(new NeighbourIndex(new Float32Array(0), 0, dim, stride).fartherThan(query(), 1)).toBe(true);
  });

  // Values from a small grid (many exact ties and duplicate rows) or free float32s; queries that are rows
  // themselves or free points; sizes around the leaf size and the reference's own (512 rows of 8 or 16).
  const value = fc.oneof(fc.integer({ min: -4, max: 4 }).map((v) => v / 2), fc.float({ min: -8, max: 8, noNaN: true }).map(Math.fround));
  const problem = fc
    .record({ n: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 200, max: 600 })), dim: fc.constantFrom(1, 2, 3, 8, 16), pad: fc.integer({ min: 0, max: 3 }), seed: fc.integer() })
    .chain(({ n, dim, pad, seed }) =>
      fc.record({
        n: fc.constant(n),
        dim: fc.constant(dim),
        stride: fc.constant(dim + pad),
        // A few distinct rows repeated make duplicates; otherwise rows drawn afresh.
        rows: fc.array(fc.array(value, { minLength: dim, maxLength: dim }), { minLength: Math.min(n, 1), maxLength: Math.max(1, n) }),
        owners: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: n, maxLength: n }),
        seed: fc.constant(seed),
        queries: fc.array(
          fc.record({
            row: fc.option(fc.nat(), { nil: undefined }),
            free: fc.array(value, { minLength: dim, maxLength: dim }),
            k: fc.integer({ min: 1, max: 20 }),
            bound2: fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.constant(0), fc.double({ min: 0, max: 40, noNaN: true })),
            skip: fc.integer({ min: 0, max: 4 }),
            radius: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 6, noNaN: true })),
          }),
          { minLength: 1, maxLength: 12 },
        ),
      }),
    );

  it('property: equals a full scan on random rows with ties and duplicates (fast-check)', () => {
    fc.assert(
      fc.property(problem, ({ n, dim, stride, rows: distinct, owners, seed, queries }) => {
        const rand = mulberry32(seed);
        const rows = new Float32Array(n * stride);
        for (let i = 0; i < n; i++) rows.set(distinct[Math.floor(rand() * distinct.length)], i * stride);
        const own = Uint32Array.from(owners);
        const index = new NeighbourIndex(rows, n, dim, stride, own);
        for (const q of queries) {
          const x = q.row !== undefined && n > 0 ? Float64Array.from(rows.subarray((q.row % n) * stride, (q.row % n) * stride + dim)) : Float64Array.from(q.free);
          const got = index.nearest(x, q.k, q.bound2, q.skip, createNeighbourhood(q.k));
          const want = bruteNearest(rows, own, n, stride, x, dim, q.k, q.bound2, q.skip);
          expect(Array.from(got.idx.subarray(0, got.count))).toEqual(want.map((r) => r.i));
          expect(Array.from(got.d2.subarray(0, got.count))).toEqual(want.map((r) => r.d));
          for (const leaveOut of [false, true]) expect(index.fartherThan(x, q.radius, leaveOut)).toBe(!bruteWithin(rows, n, stride, x, dim, q.radius, leaveOut));
        }
      }),
      { numRuns: 200, endOnFailure: true },
    );
  });
});
