import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { Compute } from './Compute.ts';

/** Picks the TensorFlow.js backend and returns the kernels bound to it. */
export async function createCompute(preferred?: string): Promise<Compute> {
  await tf.setBackend(preferred ?? 'cpu');
  await tf.ready();
  return { backend: tf.getBackend() } as Compute; // kernels: see issue 3 (compute helper)
}
