import { z } from 'zod';
import type { Compute, MinDistanceJob } from './Compute.ts';

/** The Compute kernels, each chosen on its own. */
export const KERNELS = ['minDistances', 'rowEntropy', 'jsDivergence', 'topMargin'] as const;
export type KernelName = (typeof KERNELS)[number];

/**
 * Kernels whose TensorFlow.js result equals plain JavaScript's bit for bit,
 * so that picking them by speed cannot change a score: `topMargin` is one
 * float32 subtraction of two of the row's own values (topk returns them
 * exactly), correctly rounded on every backend, as the plain-JS float64
 * difference rounded to float32 is. The others can differ in the last
 * float32 bits — `rowEntropy` and `jsDivergence` sum float32 logarithms;
 * `minDistances` picks its neighbour from a float32 matrix product, so a
 * near tie can name another row — and their results meet thresholds and
 * histogram bins, so a different bit can change a decision: they keep the
 * deterministic plain-JS path unless the config forces TensorFlow.js.
 */
export const EXACT_ON_TFJS: ReadonlySet<KernelName> = new Set<KernelName>(['topMargin']);

/** Per kernel: `auto` (measured at start-up), or forced to plain JavaScript (`js`) or the TensorFlow.js backend (`tfjs`). */
export const kernelSettingSchema = z.enum(['auto', 'js', 'tfjs']);
export type KernelSetting = z.output<typeof kernelSettingSchema>;

/** The `compute` section of the config. */
export const computeSchema = z
  .object({
    /** TensorFlow.js backend to load (`tensorflow-gpu`, `tensorflow`, `wasm`, `cpu`); unset: the best this machine has. */
    backend: z.enum(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).optional(),
    /** Where each kernel runs; `auto` measures both at start-up (see `EXACT_ON_TFJS` for which may move). */
    kernels: z
      .object(Object.fromEntries(KERNELS.map((k) => [k, kernelSettingSchema.default('auto')])) as Record<KernelName, z.ZodDefault<typeof kernelSettingSchema>>)
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});
export type ComputeConfig = z.output<typeof computeSchema>;

/** Milliseconds per call of one kernel at the start-up workload, on each path (NaN: not measured). */
export interface KernelTiming {
  js: number;
  tfjs: number;
}

/** Where one kernel runs, and why. */
export interface KernelChoice {
  kernel: KernelName;
  /** `js`, or the TensorFlow.js backend's name (`tensorflow`, `wasm`, `cpu`). */
  backend: string;
  reason: 'faster' | 'deterministic' | 'forced' | 'no-tfjs';
  timing: KernelTiming;
}

/**
 * Picks each kernel's path: a forced setting as given; under `auto`, the
 * faster of the two measured paths for a kernel that agrees bit for bit
 * (`EXACT_ON_TFJS`), plain JavaScript for the others. Without a
 * TensorFlow.js backend (`tfBackend` null) everything runs in JavaScript.
 */
export function chooseKernels(
  settings: Readonly<Record<KernelName, KernelSetting>>,
  timings: Readonly<Record<KernelName, KernelTiming>>,
  tfBackend: string | null,
): Record<KernelName, KernelChoice> {
  const out = {} as Record<KernelName, KernelChoice>;
  for (const kernel of KERNELS) {
    const timing = timings[kernel];
    const setting = settings[kernel];
    let choice: Pick<KernelChoice, 'backend' | 'reason'>;
    if (tfBackend === null) choice = { backend: 'js', reason: setting === 'js' ? 'forced' : 'no-tfjs' };
    else if (setting !== 'auto') choice = { backend: setting === 'js' ? 'js' : tfBackend, reason: 'forced' };
    else if (!EXACT_ON_TFJS.has(kernel)) choice = { backend: 'js', reason: 'deterministic' };
    else choice = { backend: timing.tfjs < timing.js ? tfBackend : 'js', reason: 'faster' };
    out[kernel] = { kernel, timing, ...choice };
  }
  return out;
}

/** One call of each kernel at the shapes a poll of the pipeline produces. */
export type KernelWorkload = Record<KernelName, (c: Compute) => unknown>;

/**
 * The start-up workload: a poll of 500 events of a 10-class model (one
 * `rowEntropy`, `topMargin` and `jsDivergence` row each), and grid-sweep's
 * distance jobs, one per new query against its class's growing set (at
 * most 32 members of 16 coordinates). Deterministic data, no randomness
 * drawn from the pipeline's generators.
 */
export function pollWorkload(rows = 500, width = 10): KernelWorkload {
  let seed = 0x9e3779b9;
  const next = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return ((seed >>> 0) + 0.5) / 4294967296;
  };
  const probs = () => {
    const m = Float32Array.from({ length: rows * width }, () => Math.exp(4 * next()));
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < width; j++) s += m[r * width + j];
      for (let j = 0; j < width; j++) m[r * width + j] /= s;
    }
    return m;
  };
  const p = probs();
  const q = probs();
  const mat = (n: number, dim: number) => Float32Array.from({ length: n * dim }, () => 2 * next() - 1);
  const jobs: MinDistanceJob[] = Array.from({ length: 400 }, () => ({ dim: 16, queries: mat(1, 16), refs: mat(32, 16) }));
  return {
    minDistances: (c) => c.minDistances(jobs),
    rowEntropy: (c) => c.rowEntropy(p, width),
    jsDivergence: (c) => c.jsDivergence(p, q, width),
    topMargin: (c) => c.topMargin(p, width),
  };
}

export interface MeasureOptions {
  /** The clock (ms); tests inject one. */
  now?: () => number;
  /** Timed calls per path: at least `minRuns`, then until `budgetMs` has passed or `maxRuns`. */
  minRuns?: number;
  maxRuns?: number;
  budgetMs?: number;
  /** The kernels to time (default: all); the others get NaN timings. */
  only?: ReadonlySet<KernelName>;
}

/**
 * Median milliseconds per call of each kernel of `workload` on plain
 * JavaScript and on TensorFlow.js (`tf` null: not measured), after one
 * untimed call each (a backend's first call compiles and allocates).
 */
export function measureKernels(js: Compute, tf: Compute | null, workload: KernelWorkload, options: MeasureOptions = {}): Record<KernelName, KernelTiming> {
  const { now = () => performance.now(), minRuns = 3, maxRuns = 25, budgetMs = 15, only } = options;
  const time = (c: Compute, run: (c: Compute) => unknown): number => {
    run(c);
    const times: number[] = [];
    const start = now();
    while (times.length < minRuns || (times.length < maxRuns && now() - start < budgetMs)) {
      const t0 = now();
      run(c);
      times.push(now() - t0);
    }
    times.sort((a, b) => a - b);
    const m = times.length >> 1;
    return times.length % 2 ? times[m] : (times[m - 1] + times[m]) / 2;
  };
  const out = {} as Record<KernelName, KernelTiming>;
  for (const kernel of KERNELS) {
    if (only && !only.has(kernel)) out[kernel] = { js: Number.NaN, tfjs: Number.NaN };
    else out[kernel] = { js: time(js, workload[kernel]), tfjs: tf ? time(tf, workload[kernel]) : Number.NaN };
  }
  return out;
}
