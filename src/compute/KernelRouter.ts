import type { Compute, MinDistanceJob } from './Compute.ts';
import type { KernelChoice, KernelName } from './kernelChoice.ts';

/**
 * The Compute the pipeline runs on: each kernel sent to the path chosen for
 * it at start-up (`chooseKernels`), plain JavaScript or the TensorFlow.js
 * backend. `backend` names the TensorFlow.js backend loaded (`js` when none
 * is); `kernels` says where each kernel runs and why.
 */
export class KernelRouter implements Compute {
  readonly backend: string;
  private readonly route: Record<KernelName, Compute>;

  constructor(
    readonly kernels: Readonly<Record<KernelName, KernelChoice>>,
    js: Compute,
    tf: Compute | null,
  ) {
    this.backend = tf?.backend ?? 'js';
    const pick = (k: KernelName) => (kernels[k].backend === 'js' || !tf ? js : tf);
    this.route = { minDistances: pick('minDistances'), rowEntropy: pick('rowEntropy'), jsDivergence: pick('jsDivergence'), topMargin: pick('topMargin') };
  }

  minDistances(jobs: readonly MinDistanceJob[]): Float32Array[] {
    return this.route.minDistances.minDistances(jobs);
  }

  rowEntropy(probs: Float32Array, width: number): Float32Array {
    return this.route.rowEntropy.rowEntropy(probs, width);
  }

  jsDivergence(p: Float32Array, q: Float32Array, width: number): Float32Array {
    return this.route.jsDivergence.jsDivergence(p, q, width);
  }

  topMargin(probs: Float32Array, width: number): Float32Array {
    return this.route.topMargin.topMargin(probs, width);
  }
}
