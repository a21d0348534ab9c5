import type { Compute } from '../compute/Compute.ts';
import { KernelRouter } from '../compute/KernelRouter.ts';
import { chooseKernels, type ComputeConfig, KERNELS, type KernelName, type KernelTiming } from '../compute/kernelChoice.ts';
import { ReferenceCompute } from '../compute/ReferenceCompute.ts';

/** Whether the config forces a kernel onto TensorFlow.js: only then does a detector worker load it. */
export function forcesTensorFlow(config: Readonly<ComputeConfig>): boolean {
  return KERNELS.some((k) => config.kernels[k] === 'tfjs');
}

/**
 * The kernels a detector worker runs on. Under `auto` every kernel runs in
 * plain JavaScript there, without loading TensorFlow.js (most of a worker's
 * start-up): the kernels TensorFlow.js would round differently stay in
 * JavaScript on the main thread too, and the one it computes bit for bit
 * (`EXACT_ON_TFJS`) gives the same numbers on either path. A kernel the
 * config forces onto TensorFlow.js is routed as the main thread routes it
 * (`createKernels`, loaded only then).
 */
export async function workerKernels(config: Readonly<ComputeConfig>): Promise<Compute & { kernels: KernelRouter['kernels'] }> {
  if (forcesTensorFlow(config)) {
    const { createKernels } = await import('../compute/createKernels.ts');
    return createKernels(config);
  }
  const unmeasured = Object.fromEntries(KERNELS.map((k) => [k, { js: Number.NaN, tfjs: Number.NaN }])) as Record<KernelName, KernelTiming>;
  return new KernelRouter(chooseKernels(config.kernels, unmeasured, null), new ReferenceCompute(), null);
}
