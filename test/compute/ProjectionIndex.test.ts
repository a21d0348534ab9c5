import { describe, expect, it } from 'vitest';
import { ProjectionIndex } from '../../src/compute/ProjectionIndex.ts';
import { squaredDistance } from '../../src/compute/squaredDistance.ts';
import { mulberry32 } from '../../src/gateway/RandomProjection.ts';

/** Random rows with repeats and ties in the first coordinate, as reservoir samples of real traffic have. */
function rowsWithTies(rand: () => number, n: number, dim: number): Float32Array {
  const m = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    if (i > 0 && rand() < 0.1) {
      const k = Math.floor(rand() * i);
      m.copyWithin(i * dim, k * dim, k * dim + dim); // an exact repeat
      continue;
    }
    for (let j = 0; j < dim; j++) m[i * dim + j] = j === 0 && rand() < 0.3 ? Math.round(rand() * 4) : 3 * (rand() - 0.5);
  }
  return m;
}

/** The full scans the index must agree with exactly. */
function bruteMinSquared(rows: Float32Array, n: number, dim: number, x: Float32Array, leaveOut: boolean): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const d = squaredDistance(rows, i * dim, x, 0, dim);
    if (d < best && !(leaveOut && d === 0)) best = d;
  }
  return best;
}

describe('ProjectionIndex', () => {
  it('answers fartherThan exactly as a full scan, at radii around the true nearest distance', () => {
    const rand = mulberry32(7);
    for (const [n, dim] of [[0, 4], [1, 3], [50, 2], [300, 8]]) {
      const rows = rowsWithTies(rand, n, dim);
      const index = new ProjectionIndex(rows, n, dim);
      let farther = 0;
      let near = 0;
      for (let q = 0; q < 200; q++) {
        // Half the queries are members (for leave-one-out), half fresh points.
        const x = n > 0 && q % 2 === 0 ? rows.slice((q % n) * dim, (q % n) * dim + dim) : Float32Array.from({ length: dim }, () => 4 * (rand() - 0.5));
        for (const leaveOut of [false, true]) {
          const nearest = Math.sqrt(bruteMinSquared(rows, n, dim, x, leaveOut));
          const radii = Number.isFinite(nearest) ? [0, nearest, nearest * (1 - 1e-15), nearest * (1 + 1e-15), nearest / 2, nearest * 2, 0.3] : [0, 1];
          for (const r of radii) {
            const expected = nearest > r;
            expect(index.fartherThan(x, r, leaveOut)).toBe(expected);
            if (expected) farther++;
            else near++;
          }
        }
      }
      if (n > 1) expect(Math.min(farther, near)).toBeGreaterThan(0);
    }
  });

  it('reads the query at an offset', () => {
    const rows = Float32Array.from([0, 0, 1, 1, 5, 5]);
    const index = new ProjectionIndex(rows, 3, 2);
    const held = Float32Array.from([9, 9, 1, 1.2]);
    expect(index.fartherThan(held, 0.25, false, 2)).toBe(false);
    expect(index.fartherThan(held, 0.15, false, 2)).toBe(true);
    expect(index.fartherThan(held, 0.25, false, 0)).toBe(true);
  });
});
