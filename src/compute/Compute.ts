/**
 * Batched vector kernels on a TensorFlow.js backend. Detectors call these
 * once per poll with every key's work stacked, never once per event.
 */
export interface Compute {
  /** The backend in use: `tensorflow` (tfjs-node / -gpu), `wasm` or `cpu`. */
  readonly backend: string;
}
