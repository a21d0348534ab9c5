import * as tf from '@tensorflow/tfjs-core';
import type { Compute, MinDistanceJob } from './Compute.ts';
import { planDistanceChunks, type DistanceChunk } from './minDistanceTasks.ts';
import { squaredDistance } from './squaredDistance.ts';

/** Tuning of the kernels (not detection thresholds). */
export interface TfComputeOptions {
  /**
   * Most distance-matrix cells (padded tasks × query rows × point columns) in
   * one batched call; larger polls are split. A chunk holds a few float32
   * tensors of this size, so 1M cells is on the order of 16 MB at peak.
   */
  distanceCellBudget?: number;
}

const DEFAULT_CELL_BUDGET = 1 << 20;

/**
 * The Compute kernels on a TensorFlow.js backend. Every kernel runs inside
 * `tf.tidy` and returns plain Float32Arrays; no tensor outlives a call.
 *
 * Several instances may coexist on different backends (the cross-backend
 * test does this): each call first makes its own backend the active one,
 * which is synchronous once a backend has been initialised.
 */
export class TfCompute implements Compute {
  private readonly cellBudget: number;

  constructor(readonly backend: string, options: TfComputeOptions = {}) {
    this.cellBudget = options.distanceCellBudget ?? DEFAULT_CELL_BUDGET;
  }

  private scratchBuffer = new Float32Array(0);

  /**
   * A zeroed float32 buffer reused across calls for the largest packed
   * matrix: allocating tens of megabytes afresh each poll costs more than
   * the matMul. Safe because every tensor made from it dies in the same call.
   */
  private scratch(n: number): Float32Array {
    if (this.scratchBuffer.length < n) this.scratchBuffer = new Float32Array(Math.max(n, 2 * this.scratchBuffer.length));
    return this.scratchBuffer.subarray(0, n).fill(0);
  }

  private activate(): void {
    // Engine.setBackend has no await on its path for an initialised backend,
    // so the switch has happened when the call returns.
    if (tf.getBackend() !== this.backend) void tf.setBackend(this.backend);
    if (tf.getBackend() !== this.backend) throw new Error(`compute backend ${this.backend} is not initialised`);
  }

  /**
   * Nearest earlier neighbour of every query, all jobs of the poll stacked
   * into padded batches. Squared distances come out of batched matMuls of
   * augmented rows, [q, 1, |q|²]·[−2p, |p|², 1] = |q − p|², so no large
   * tensor is ever broadcast: one product against the rows every query of a
   * slice sees (refs, earlier queries; padding carries a huge norm), one
   * against the slice's own queries plus a triangular penalty (query i sees
   * queries before i), then argMin. The distance to the chosen neighbour is
   * recomputed exactly from the inputs, so exact repeats give 0 and
   * backends agree to float32 rounding even where the matrix form cancels.
   */
  minDistances(jobs: readonly MinDistanceJob[]): Float32Array[] {
    return this.nearestNeighbours(jobs).map((r) => r.distances);
  }

  /** `minDistances` with the row of each nearest neighbour (refs then queries; −1 when none). */
  nearestNeighbours(jobs: readonly MinDistanceJob[]): { distances: Float32Array; indices: Int32Array }[] {
    const out = jobs.map((j) => {
      const n = j.queries.length / Math.max(1, j.dim);
      return { distances: new Float32Array(n).fill(Number.POSITIVE_INFINITY), indices: new Int32Array(n).fill(-1) };
    });
    const chunks = planDistanceChunks(jobs, this.cellBudget);
    if (chunks.length === 0) return out;
    this.activate();
    for (const chunk of chunks) {
      const nearest = this.nearestColumns(chunk, jobs);
      const width = chunk.eMax + chunk.qMax;
      chunk.tasks.forEach((t, b) => {
        const job = jobs[t.job];
        const res = out[t.job];
        for (let r = t.rowStart; r < t.rowEnd; r++) {
          if (r === 0) continue; // nothing earlier: stays Infinity
          const col = nearest[b * chunk.qMax + (r - t.rowStart)];
          // Columns [0, eMax) are earlier rows 0..; columns eMax.. are the slice's own rows.
          const other = col < chunk.eMax ? col : t.rowStart + (col - chunk.eMax);
          if (col >= width || other >= r) throw new Error(`minDistances: kernel picked invisible column ${col} for row ${r}`);
          const q = t.outOffset + r - t.rowStart;
          res.distances[q] = exactDistance(job, r, other);
          res.indices[q] = other;
        }
      });
    }
    return out;
  }

  /** Column of the nearest visible point for each (task, query row) of a chunk, padded layout. */
  private nearestColumns(chunk: DistanceChunk, jobs: readonly MinDistanceJob[]): Int32Array {
    const { tasks, qMax, eMax, dim } = chunk;
    const B = tasks.length;
    const w = dim + 2;
    const qRows = new Float32Array(B * qMax * w); // [q, 1, |q|²]
    const qCols = new Float32Array(B * qMax * w); // [−2q, |q|², 1]
    const eCols = this.scratch(B * eMax * w); // [−2p, |p|², 1]; padding [0, FAR, 0]
    const penalty = new Float32Array(B * qMax * qMax);
    for (let i = 0; i < qMax; i++) penalty.fill(FAR, i * qMax + i, (i + 1) * qMax);
    for (let b = 1; b < B; b++) penalty.copyWithin(b * qMax * qMax, 0, qMax * qMax);
    tasks.forEach((t, b) => {
      const job = jobs[t.job];
      const nr = job.refs.length / dim;
      for (let k = 0; k < eMax; k++) {
        if (k < t.rowStart) packPoint(job, nr, k, t.origin, eCols, (b * eMax + k) * w, -2, 'column');
        else eCols[(b * eMax + k) * w + dim] = FAR;
      }
      for (let k = 0; k < t.rowEnd - t.rowStart; k++) {
        const o = (b * qMax + k) * w;
        packPoint(job, nr, t.rowStart + k, t.origin, qRows, o, 1, 'row');
        packPoint(job, nr, t.rowStart + k, t.origin, qCols, o, -2, 'column');
      }
    });
    return tf.tidy(() => {
      const q = tf.tensor3d(qRows, [B, qMax, w]);
      const own = tf.add(tf.matMul(q, tf.tensor3d(qCols, [B, qMax, w]), false, true), tf.tensor3d(penalty, [B, qMax, qMax]));
      const all = eMax === 0 ? own : tf.concat([tf.matMul(q, tf.tensor3d(eCols, [B, eMax, w]), false, true), own], 2);
      return tf.argMin(all, 2).dataSync() as Int32Array;
    });
  }

  /** −Σ p ln p per row, with 0 ln 0 = 0 and negative entries read as 0. */
  rowEntropy(probs: Float32Array, width: number): Float32Array {
    const rows = checkMatrix(probs, width, 'rowEntropy');
    if (rows === 0) return new Float32Array(0);
    this.activate();
    return tf.tidy(() => {
      const p = tf.relu(tf.tensor2d(probs, [rows, width]));
      // p·(−ln p) rather than −(p·ln p): a certain row gives +0, not −0.
      return tf.sum(tf.mul(p, tf.neg(tf.log(tf.maximum(p, TINY)))), 1).dataSync() as Float32Array;
    });
  }

  /**
   * JS(p, q) = ½ KL(p‖m) + ½ KL(q‖m) with m = (p + q)/2, per row pair; rows
   * are read as given (not renormalised), negative entries as 0, and the
   * result is clamped at 0 against rounding.
   */
  jsDivergence(p: Float32Array, q: Float32Array, width: number): Float32Array {
    const rows = checkMatrix(p, width, 'jsDivergence');
    if (q.length !== p.length) throw new RangeError(`jsDivergence: p has ${p.length} values, q has ${q.length}`);
    if (rows === 0) return new Float32Array(0);
    this.activate();
    return tf.tidy(() => {
      const pt = tf.relu(tf.tensor2d(p, [rows, width]));
      const qt = tf.relu(tf.tensor2d(q, [rows, width]));
      const m = tf.mul(0.5, tf.add(pt, qt));
      const logM = tf.log(tf.maximum(m, TINY));
      // x ln(x/m) with 0 ln 0 = 0: x·(ln max(x,tiny) − ln max(m,tiny)); x > 0 implies m > 0.
      const kl = (x: tf.Tensor2D) => tf.sum(tf.mul(x, tf.sub(tf.log(tf.maximum(x, TINY)), logM)), 1);
      return tf.relu(tf.mul(0.5, tf.add(kl(pt), kl(qt)))).dataSync() as Float32Array;
    });
  }

  /** Top-1 minus top-2 of each row; 1 when the row has a single class. */
  topMargin(probs: Float32Array, width: number): Float32Array {
    const rows = checkMatrix(probs, width, 'topMargin');
    if (rows === 0) return new Float32Array(0);
    if (width === 1) return new Float32Array(rows).fill(1);
    this.activate();
    return tf.tidy(() => {
      const { values } = tf.topk(tf.tensor2d(probs, [rows, width]), 2);
      const [top1, top2] = tf.split(values, 2, 1);
      return tf.reshape(tf.sub(top1, top2), [rows]).dataSync() as Float32Array;
    });
  }
}

/** Floor inside log: keeps it finite (0 ln 0 = 0) far below any probability a model reports, and well above float32 denormals that some backends flush. */
const TINY = 1e-30;

function checkMatrix(m: Float32Array, width: number, what: string): number {
  if (width <= 0 || !Number.isInteger(width)) throw new RangeError(`${what}: width must be a positive integer, got ${width}`);
  if (m.length % width !== 0) throw new RangeError(`${what}: ${m.length} values are not a multiple of width ${width}`);
  return m.length / width;
}

/** Squared-distance stand-in for "not visible": larger than any real one, finite so no NaN arises. */
const FAR = 1e30;

/**
 * Writes point row `r` of a job, centred on `origin`, as an augmented row at
 * `out[o..o+dim+2)`: `[x, 1, |x|²]` as a `row`, `[−2x, |x|², 1]` as a
 * `column` (scale −2), so row·column = |x_row − x_col|².
 */
function packPoint(job: MinDistanceJob, nr: number, r: number, origin: Float64Array, out: Float32Array, o: number, scale: number, as: 'row' | 'column'): void {
  const { dim } = job;
  const src = r < nr ? job.refs : job.queries;
  const so = (r < nr ? r : r - nr) * dim;
  let n2 = 0;
  for (let j = 0; j < dim; j++) {
    const x = src[so + j] - origin[j];
    n2 += x * x;
    out[o + j] = scale * x;
  }
  out[o + dim] = as === 'row' ? 1 : n2;
  out[o + dim + 1] = as === 'row' ? n2 : 1;
}

/** L2 distance, in float64, between point rows `r` and `col` of a job (refs then queries). */
function exactDistance(job: MinDistanceJob, r: number, col: number): number {
  const { dim } = job;
  const nr = job.refs.length / dim;
  const a = r < nr ? job.refs : job.queries;
  const ao = (r < nr ? r : r - nr) * dim;
  const b = col < nr ? job.refs : job.queries;
  const bo = (col < nr ? col : col - nr) * dim;
  return Math.sqrt(squaredDistance(a, ao, b, bo, dim));
}
