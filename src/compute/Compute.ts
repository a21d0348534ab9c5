/**
 * Batched vector kernels on a TensorFlow.js backend. Detectors call these
 * once per poll with every key's work stacked, never once per event.
 * Matrices are row-major Float32Arrays; results agree across backends within
 * float tolerance.
 */
export interface Compute {
  /** The backend in use: `tensorflow` (tfjs-node / -gpu), `wasm` or `cpu`. */
  readonly backend: string;

  /**
   * For each job: the L2 distance from each query row to its nearest
   * neighbour among `refs` rows and the job's earlier query rows (query i
   * sees queries 0..i-1). `Infinity` when there is none. All jobs of a poll
   * run in one batched call.
   */
  minDistances(jobs: readonly MinDistanceJob[]): Float32Array[];

  /** Shannon entropy (nats) of each row of a matrix of probability vectors. */
  rowEntropy(probs: Float32Array, width: number): Float32Array;

  /** Jensen–Shannon divergence (nats) between row i of `p` and row i of `q`. */
  jsDivergence(p: Float32Array, q: Float32Array, width: number): Float32Array;

  /** Top-1 minus top-2 probability of each row (1 for a single-class row). */
  topMargin(probs: Float32Array, width: number): Float32Array;
}

export interface MinDistanceJob {
  queries: Float32Array;
  refs: Float32Array;
  dim: number;
}
