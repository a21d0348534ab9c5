import type { Compute, MinDistanceJob } from './Compute.ts';
import { squaredDistance } from './squaredDistance.ts';

/**
 * The Compute kernels in plain JavaScript, float64 arithmetic, one row at a
 * time. It is the reference the TensorFlow.js kernels are tested against and
 * the baseline the benchmarks compare them to; it needs no backend.
 */
export class ReferenceCompute implements Compute {
  readonly backend = 'reference';

  minDistances(jobs: readonly MinDistanceJob[]): Float32Array[] {
    return this.nearestNeighbours(jobs).map((r) => r.distances);
  }

  /** `minDistances` with the row of each nearest neighbour (refs then queries; −1 when none). */
  nearestNeighbours(jobs: readonly MinDistanceJob[]): { distances: Float32Array; indices: Int32Array }[] {
    return jobs.map(({ queries, refs, dim }) => {
      const nq = queries.length / dim;
      const nr = refs.length / dim;
      const distances = new Float32Array(nq);
      const indices = new Int32Array(nq);
      for (let i = 0; i < nq; i++) {
        let best = Number.POSITIVE_INFINITY;
        let at = -1;
        for (let k = 0; k < nr; k++) {
          const d = squaredDistance(queries, i * dim, refs, k * dim, dim);
          if (d < best) {
            best = d;
            at = k;
          }
        }
        for (let k = 0; k < i; k++) {
          const d = squaredDistance(queries, i * dim, queries, k * dim, dim);
          if (d < best) {
            best = d;
            at = nr + k;
          }
        }
        indices[i] = at;
        distances[i] = Math.sqrt(best);
      }
      return { distances, indices };
    });
  }

  rowEntropy(probs: Float32Array, width: number): Float32Array {
    const rows = probs.length / width;
    const out = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      let h = 0;
      for (let j = 0; j < width; j++) {
        const p = probs[r * width + j];
        if (p > 0) h -= p * Math.log(p);
      }
      out[r] = h;
    }
    return out;
  }

  jsDivergence(p: Float32Array, q: Float32Array, width: number): Float32Array {
    const rows = p.length / width;
    const out = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      let d = 0;
      for (let j = 0; j < width; j++) {
        const a = Math.max(0, p[r * width + j]);
        const b = Math.max(0, q[r * width + j]);
        const m = (a + b) / 2;
        if (a > 0) d += 0.5 * a * Math.log(a / m);
        if (b > 0) d += 0.5 * b * Math.log(b / m);
      }
      out[r] = Math.max(0, d);
    }
    return out;
  }

  topMargin(probs: Float32Array, width: number): Float32Array {
    const rows = probs.length / width;
    const out = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      if (width === 1) {
        out[r] = 1;
        continue;
      }
      let top1 = Number.NEGATIVE_INFINITY;
      let top2 = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < width; j++) {
        const v = probs[r * width + j];
        if (v > top1) {
          top2 = top1;
          top1 = v;
        } else if (v > top2) top2 = v;
      }
      out[r] = top1 - top2;
    }
    return out;
  }
}

