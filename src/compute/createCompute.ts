import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ProbewatchError } from '../errors.ts';
import type { Compute } from './Compute.ts';
import { TfCompute, type TfComputeOptions } from './TfCompute.ts';

/** The backends createCompute knows, best first (DESIGN.md, "Compute"). */
export const BACKEND_PREFERENCE = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_PREFERENCE)[number];

/** The narrow logger createCompute needs (pino's Logger fits). */
export interface ComputeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** How createCompute looks at the machine; tests replace these to walk the fallbacks. */
export interface ComputeProbes {
  /** Whether a CUDA GPU is visible (a device node or the driver's proc entry). */
  cudaGpuPresent(): boolean;
  /** Loads an optional package; rejects when it is not installed or fails to load. */
  importModule(specifier: string): Promise<unknown>;
}

export interface CreateComputeOptions extends TfComputeOptions {
  logger?: ComputeLogger;
  probes?: Partial<ComputeProbes>;
}

/** A Compute on a TensorFlow.js backend, with the package that provides it. */
export interface BackendCompute extends Compute {
  /** Which of BACKEND_PREFERENCE was chosen (`tensorflow-gpu` and `tensorflow` share backend `tensorflow`). */
  readonly choice: BackendChoice;
}

const defaultProbes: ComputeProbes = {
  cudaGpuPresent: () => existsSync('/dev/nvidia0') || existsSync('/dev/nvidiactl') || existsSync('/proc/driver/nvidia/version'),
  importModule: loadPackage,
};

/**
 * A package loaded with `require` when it is CommonJS (the TensorFlow.js backends are): `import()` of a
 * CommonJS module first scans its whole source for named exports, a tenth of a second for the WASM
 * backend's, on every start and replay. An ES module package is imported.
 */
async function loadPackage(specifier: string): Promise<unknown> {
  try {
    return createRequire(import.meta.url)(specifier);
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_REQUIRE_ESM') return import(specifier);
    throw err;
  }
}

interface Attempt {
  ok: boolean;
  reason?: string;
}

/**
 * Picks the TensorFlow.js backend at start-up and returns the kernels bound
 * to it: `@tensorflow/tfjs-node-gpu` when a CUDA GPU and that package are
 * present, then `@tensorflow/tfjs-node`, then WASM, then the plain CPU
 * backend. The native packages are optional dependencies (their installers
 * download libtensorflow), so they are imported dynamically and their
 * absence only moves the choice down the list. The choice is logged; the
 * caller exports `backend` as the `probewatch_compute_backend_info` metric.
 *
 * With `preferred`, only that backend is tried, and failing to start it is
 * an error (PW_CONFIG): an operator who asks for a backend gets it or hears why.
 */
export async function createCompute(preferred?: string, options: CreateComputeOptions = {}): Promise<BackendCompute> {
  const probes: ComputeProbes = { ...defaultProbes, ...options.probes };
  if (preferred !== undefined && !(BACKEND_PREFERENCE as readonly string[]).includes(preferred)) {
    throw new ProbewatchError('PW_CONFIG', `unknown compute backend "${preferred}"; expected one of ${BACKEND_PREFERENCE.join(', ')}`);
  }
  const candidates: readonly BackendChoice[] = preferred ? [preferred as BackendChoice] : BACKEND_PREFERENCE;
  const skipped: Record<string, string> = {};
  for (const choice of candidates) {
    const attempt = await tryBackend(choice, probes);
    if (!attempt.ok) {
      skipped[choice] = attempt.reason ?? 'failed';
      continue;
    }
    const backend = tf.getBackend();
    options.logger?.info({ backend, choice, skipped }, 'compute backend selected');
    if (choice === 'cpu') {
      // The CPU backend prints advice to stderr as plain text on first use, which would break the JSON log stream; say it here instead.
      (tf.findBackend('cpu') as { firstUse?: boolean } | undefined)!.firstUse = false;
      if (!preferred) options.logger?.warn({ backend }, 'running on the plain CPU backend; @tensorflow/tfjs-node or the WASM backend would be faster');
    }
    return Object.assign(new TfCompute(backend, options), { choice });
  }
  if (preferred) {
    throw new ProbewatchError('PW_CONFIG', `compute backend "${preferred}" is not available: ${skipped[preferred]}`);
  }
  // The CPU backend ships with tfjs-core's dependencies; reaching here means the install is broken.
  throw new ProbewatchError('PW_CONFIG', `no TensorFlow.js backend could start: ${JSON.stringify(skipped)}`);
}

async function tryBackend(choice: BackendChoice, probes: ComputeProbes): Promise<Attempt> {
  switch (choice) {
    case 'tensorflow-gpu':
      if (!probes.cudaGpuPresent()) return { ok: false, reason: 'no CUDA GPU visible' };
      return nativeBackend('@tensorflow/tfjs-node-gpu', probes);
    case 'tensorflow':
      return nativeBackend('@tensorflow/tfjs-node', probes);
    case 'wasm':
      return wasmBackend(probes);
    case 'cpu':
      return activate('cpu');
  }
}

async function nativeBackend(pkg: string, probes: ComputeProbes): Promise<Attempt> {
  try {
    await probes.importModule(pkg);
  } catch (err) {
    return { ok: false, reason: `${pkg} not loadable: ${firstLine(err)}` };
  }
  // A native package resolved against another copy of tfjs-core registers its backend there, not here.
  if (!tf.findBackendFactory('tensorflow')) return { ok: false, reason: `${pkg} loaded but registered no "tensorflow" backend with this tfjs-core` };
  return activate('tensorflow');
}

let wasmPathsSet = false;

async function wasmBackend(probes: ComputeProbes): Promise<Attempt> {
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    wasm = (await probes.importModule('@tensorflow/tfjs-backend-wasm')) as typeof import('@tensorflow/tfjs-backend-wasm');
  } catch (err) {
    return { ok: false, reason: `@tensorflow/tfjs-backend-wasm not loadable: ${firstLine(err)}` };
  }
  if (!wasmPathsSet && !tf.engine().registry.wasm) {
    // In Node the .wasm binaries are read from the package's dist folder (a file path prefix, trailing slash).
    const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(join(dirname(main), '/'));
    wasmPathsSet = true;
  }
  return activate('wasm');
}

async function activate(name: string): Promise<Attempt> {
  try {
    if (!(await tf.setBackend(name))) return { ok: false, reason: `backend ${name} failed to initialise` };
    await tf.ready();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: firstLine(err) };
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
