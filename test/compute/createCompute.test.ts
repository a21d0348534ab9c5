import { describe, expect, it } from 'vitest';
import { createCompute } from '../../src/compute/createCompute.ts';
import { isProbewatchError } from '../../src/errors.ts';
import { recordingLogger } from './recordingLogger.ts';

const missingNative = (specifier: string) =>
  specifier.startsWith('@tensorflow/tfjs-node') ? Promise.reject(new Error(`Cannot find package '${specifier}'`)) : import(specifier);

describe('createCompute', () => {
  it('walks the preference list: GPU package missing, then tfjs-node missing, lands on wasm and logs why', async () => {
    const { logger, lines } = recordingLogger();
    const asked: string[] = [];
    const compute = await createCompute(undefined, {
      logger,
      probes: { cudaGpuPresent: () => true, importModule: (s) => (asked.push(s), missingNative(s)) },
    });
    expect(compute.backend).toBe('wasm');
    expect(compute.choice).toBe('wasm');
    expect(asked.slice(0, 2)).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
    const selected = lines.find((l) => l.msg === 'compute backend selected');
    expect(selected?.obj.backend).toBe('wasm');
    expect(Object.keys(selected?.obj.skipped as object)).toEqual(['tensorflow-gpu', 'tensorflow']);
  });

  it('does not try the GPU package without a CUDA GPU', async () => {
    const asked: string[] = [];
    await createCompute(undefined, { probes: { cudaGpuPresent: () => false, importModule: (s) => (asked.push(s), missingNative(s)) } });
    expect(asked).not.toContain('@tensorflow/tfjs-node-gpu');
  });

  it('falls back to the plain CPU backend when wasm cannot load either', async () => {
    const compute = await createCompute(undefined, {
      probes: { cudaGpuPresent: () => false, importModule: (s) => Promise.reject(new Error(`no ${s}`)) },
    });
    expect(compute.backend).toBe('cpu');
    expect(Array.from(compute.topMargin(new Float32Array([0.7, 0.2, 0.1]), 3))[0]).toBeCloseTo(0.5, 6);
  });

  it('honours a preferred backend and refuses an unavailable or unknown one with PW_CONFIG', async () => {
    expect((await createCompute('cpu')).backend).toBe('cpu');
    const noNative = { importModule: missingNative };
    await expect(createCompute('tensorflow', { probes: noNative })).rejects.toSatisfy((e) => isProbewatchError(e, 'PW_CONFIG') && /tfjs-node/.test((e as Error).message));
    await expect(createCompute('gpu-please')).rejects.toSatisfy((e) => isProbewatchError(e, 'PW_CONFIG'));
  });
});
