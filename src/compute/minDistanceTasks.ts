import type { MinDistanceJob } from './Compute.ts';

/**
 * A slice of one job's query rows. A job's points are its `refs` followed
 * by its `queries`; point row `r` sees the rows before it. For a slice of
 * query rows `[rowStart, rowEnd)` that is every row before `rowStart` (its
 * "earlier" block, needing no mask) plus the slice's own earlier rows (a
 * small triangular block).
 */
export interface DistanceTask {
  job: number;
  rowStart: number;
  rowEnd: number;
  /** Where the slice's results go in the job's output. */
  outOffset: number;
  /** The point the job is centred on, so float32 norms do not cancel. */
  origin: Float64Array;
}

/** Tasks of one width, stacked and padded into one batched call. */
export interface DistanceChunk {
  dim: number;
  tasks: DistanceTask[];
  /** Padded query rows per task, and padded earlier rows per task. */
  qMax: number;
  eMax: number;
}

function rowsOf(data: Float32Array, dim: number, what: string): number {
  if (dim <= 0 || !Number.isInteger(dim)) throw new RangeError(`minDistances: dim must be a positive integer, got ${dim}`);
  if (data.length % dim !== 0) throw new RangeError(`minDistances: ${what} length ${data.length} is not a multiple of dim ${dim}`);
  return data.length / dim;
}

/**
 * A point of the job's own cloud to centre on: with it subtracted, |x|²
 * measures spread, not distance from the origin, so float32 norms cancel
 * little. Any point of the job works; the first query costs O(dim).
 */
function anchorPoint(job: MinDistanceJob): Float64Array {
  const origin = new Float64Array(job.dim);
  for (let j = 0; j < job.dim; j++) origin[j] = job.queries[j];
  return origin;
}

/** Distance-matrix cells a chunk of `tasks` tasks costs. */
const cells = (tasks: number, qMax: number, eMax: number) => tasks * qMax * (eMax + qMax);

/**
 * Splits a poll's jobs into padded chunks of at most `budget` distance-matrix
 * cells each. Jobs of one width are sorted by size so padding stays small; a
 * job too large on its own is cut into slices of query rows.
 */
export function planDistanceChunks(jobs: readonly MinDistanceJob[], budget: number): DistanceChunk[] {
  const byDim = new Map<number, DistanceTask[]>();
  jobs.forEach((job, j) => {
    const nq = rowsOf(job.queries, job.dim, 'queries');
    const nr = rowsOf(job.refs, job.dim, 'refs');
    if (nq === 0) return;
    const origin = anchorPoint(job);
    let list = byDim.get(job.dim);
    if (!list) byDim.set(job.dim, (list = []));
    // Rows per slice so that one slice alone fits the budget (at least one row).
    const rowsPerSlice = Math.max(1, Math.min(nq, Math.floor(budget / (nr + nq))));
    for (let s = 0; s < nq; s += rowsPerSlice) {
      list.push({ job: j, rowStart: nr + s, rowEnd: nr + Math.min(nq, s + rowsPerSlice), outOffset: s, origin });
    }
  });

  const chunks: DistanceChunk[] = [];
  for (const [dim, list] of byDim) {
    list.sort((a, b) => b.rowStart - a.rowStart || b.rowEnd - b.rowStart - (a.rowEnd - a.rowStart));
    let cur: DistanceChunk | null = null;
    for (const t of list) {
      const q = t.rowEnd - t.rowStart;
      if (cur && cells(cur.tasks.length + 1, Math.max(cur.qMax, q), cur.eMax) <= budget) {
        cur.tasks.push(t);
        cur.qMax = Math.max(cur.qMax, q);
        continue;
      }
      cur = { dim, tasks: [t], qMax: q, eMax: t.rowStart };
      chunks.push(cur);
    }
  }
  return chunks;
}
