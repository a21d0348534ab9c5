import { createCompute, type CreateComputeOptions } from './createCompute.ts';
import { chooseKernels, type ComputeConfig, EXACT_ON_TFJS, KERNELS, type KernelWorkload, type MeasureOptions, measureKernels, pollWorkload } from './kernelChoice.ts';
import { KernelRouter } from './KernelRouter.ts';
import { ReferenceCompute } from './ReferenceCompute.ts';

export interface CreateKernelsOptions extends CreateComputeOptions {
  /** The start-up measurement's calls (default: `pollWorkload()`) and timing; tests replace them. */
  workload?: KernelWorkload;
  measure?: MeasureOptions;
}

/**
 * The pipeline's Compute: loads the TensorFlow.js backend (`createCompute`,
 * or `config.backend`), times every kernel on it and in plain JavaScript at
 * the shapes a poll produces, and routes each kernel to its chosen path
 * (`chooseKernels`). The choice is logged once; the caller exports
 * `kernels` as the `probewatch_compute_kernel_backend` metric.
 */
export async function createKernels(config: Readonly<ComputeConfig>, options: CreateKernelsOptions = {}): Promise<KernelRouter> {
  const tf = await createCompute(config.backend, options);
  const js = new ReferenceCompute();
  // Only a kernel whose path the timing decides is timed: the others' choice is fixed by the config (start-up time of every run and replay).
  const decided = new Set(KERNELS.filter((k) => config.kernels[k] === 'auto' && EXACT_ON_TFJS.has(k)));
  const timings = measureKernels(js, tf, options.workload ?? pollWorkload(), { ...options.measure, only: decided });
  const kernels = chooseKernels(config.kernels, timings, tf.backend);
  const summary = Object.fromEntries(KERNELS.map((k) => [k, { backend: kernels[k].backend, reason: kernels[k].reason, jsMs: round(timings[k].js), tfjsMs: round(timings[k].tfjs) }]));
  options.logger?.info({ backend: tf.backend, kernels: summary }, 'compute kernels selected');
  const loose = KERNELS.filter((k) => kernels[k].backend !== 'js' && !EXACT_ON_TFJS.has(k));
  if (loose.length) {
    options.logger?.warn({ kernels: loose, backend: tf.backend }, 'kernels forced onto TensorFlow.js round differently from plain JavaScript: scores may differ from a replay on another backend');
  }
  return new KernelRouter(kernels, js, tf);
}

function round(ms: number): number {
  return Math.round(ms * 1e4) / 1e4;
}
