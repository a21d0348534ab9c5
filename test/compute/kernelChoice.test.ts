import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Compute, MinDistanceJob } from '../../src/compute/Compute.ts';
import { createCompute } from '../../src/compute/createCompute.ts';
import { createKernels } from '../../src/compute/createKernels.ts';
import { chooseKernels, computeSchema, KERNELS, type KernelName, type KernelTiming, measureKernels, pollWorkload } from '../../src/compute/kernelChoice.ts';
import { KernelRouter } from '../../src/compute/KernelRouter.ts';
import { ReferenceCompute } from '../../src/compute/ReferenceCompute.ts';
import { recordingLogger } from './recordingLogger.ts';

const auto = computeSchema.parse({}).kernels;
const timings = (js: number, tfjs: number): Record<KernelName, KernelTiming> => Object.fromEntries(KERNELS.map((k) => [k, { js, tfjs }])) as Record<KernelName, KernelTiming>;

/** A Compute whose kernels only advance a fake clock, by `ms[kernel]` per call. */
function fakeCompute(backend: string, clock: { t: number }, ms: Record<KernelName, number>): Compute {
  const tick = (k: KernelName) => () => {
    clock.t += ms[k];
    return [] as never;
  };
  return { backend, minDistances: tick('minDistances'), rowEntropy: tick('rowEntropy'), jsDivergence: tick('jsDivergence'), topMargin: tick('topMargin') };
}

describe('chooseKernels', () => {
  it('auto: moves only the bit-exact kernel (topMargin), and only when TensorFlow.js measured faster', () => {
    const tfFaster = chooseKernels(auto, timings(2, 1), 'wasm');
    expect(tfFaster.topMargin).toMatchObject({ backend: 'wasm', reason: 'faster' });
    for (const k of ['minDistances', 'rowEntropy', 'jsDivergence'] as const) expect(tfFaster[k]).toMatchObject({ backend: 'js', reason: 'deterministic' });
    const jsFaster = chooseKernels(auto, timings(1, 2), 'wasm');
    expect(jsFaster.topMargin).toMatchObject({ backend: 'js', reason: 'faster' });
    // A tie stays in JavaScript.
    expect(chooseKernels(auto, timings(1, 1), 'tensorflow').topMargin.backend).toBe('js');
    expect(jsFaster.topMargin.timing).toEqual({ js: 1, tfjs: 2 });
  });

  it('forced settings win over the measurement, either way', () => {
    const forced = chooseKernels({ ...auto, rowEntropy: 'tfjs', topMargin: 'js' }, timings(5, 1), 'cpu');
    expect(forced.rowEntropy).toMatchObject({ backend: 'cpu', reason: 'forced' });
    expect(forced.topMargin).toMatchObject({ backend: 'js', reason: 'forced' });
    expect(forced.minDistances).toMatchObject({ backend: 'js', reason: 'deterministic' });
  });

  it('without a TensorFlow.js backend every kernel runs in JavaScript', () => {
    const none = chooseKernels({ ...auto, jsDivergence: 'tfjs', minDistances: 'js' }, timings(1, Number.NaN), null);
    for (const k of KERNELS) expect(none[k].backend).toBe('js');
    expect(none.jsDivergence.reason).toBe('no-tfjs');
    expect(none.minDistances.reason).toBe('forced');
  });

  it('the config refuses an unknown setting and defaults every kernel to auto', () => {
    expect(Object.values(auto)).toEqual(KERNELS.map(() => 'auto'));
    expect(() => computeSchema.parse({ kernels: { topMargin: 'gpu' } })).toThrow();
    expect(() => computeSchema.parse({ kernels: { fft: 'js' } })).toThrow();
  });
});

describe('measureKernels', () => {
  it('times each kernel on both paths with the injected clock (median of the timed calls, the first call untimed)', () => {
    const clock = { t: 0 };
    const js = fakeCompute('js', clock, { minDistances: 1, rowEntropy: 2, jsDivergence: 3, topMargin: 4 });
    const tf = fakeCompute('wasm', clock, { minDistances: 8, rowEntropy: 1, jsDivergence: 3, topMargin: 0.5 });
    const got = measureKernels(js, tf, pollWorkload(4, 3), { now: () => clock.t, minRuns: 3, maxRuns: 7, budgetMs: 10 });
    expect(got).toEqual({
      minDistances: { js: 1, tfjs: 8 },
      rowEntropy: { js: 2, tfjs: 1 },
      jsDivergence: { js: 3, tfjs: 3 },
      topMargin: { js: 4, tfjs: 0.5 },
    });
    const chosen = chooseKernels(auto, got, 'wasm');
    expect(KERNELS.map((k) => chosen[k].backend)).toEqual(['js', 'js', 'js', 'wasm']);
    expect(measureKernels(js, null, pollWorkload(4, 3), { now: () => clock.t }).topMargin.tfjs).toBeNaN();
  });
});

describe('createKernels', () => {
  it('measures at start-up, routes each kernel, logs the choice once; a kernel forced onto TensorFlow.js is warned about', async () => {
    const { logger, lines } = recordingLogger();
    const compute = await createKernels(computeSchema.parse({ backend: 'cpu', kernels: { jsDivergence: 'tfjs' } }), { logger, measure: { minRuns: 1, maxRuns: 1 } });
    expect(compute.backend).toBe('cpu');
    expect(compute.kernels.jsDivergence).toMatchObject({ backend: 'cpu', reason: 'forced' });
    expect(compute.kernels.rowEntropy).toMatchObject({ backend: 'js', reason: 'deterministic' });
    expect(compute.kernels.topMargin.reason).toBe('faster');
    const selected = lines.filter((l) => l.msg === 'compute kernels selected');
    expect(selected).toHaveLength(1);
    expect(Object.keys(selected[0].obj.kernels as object)).toEqual([...KERNELS]);
    expect(lines.some((l) => l.msg.includes('forced onto TensorFlow.js') && (l.obj.kernels as string[]).includes('jsDivergence'))).toBe(true);
  });

  it('times only the kernels whose path the timing decides (auto and bit-exact on TensorFlow.js)', async () => {
    const calls: Record<string, number> = {};
    const workload = Object.fromEntries(KERNELS.map((k) => [k, () => (calls[k] = (calls[k] ?? 0) + 1)])) as unknown as ReturnType<typeof pollWorkload>;
    const compute = await createKernels(computeSchema.parse({ backend: 'cpu' }), { workload, measure: { minRuns: 1, maxRuns: 1 } });
    expect(Object.keys(calls)).toEqual(['topMargin']);
    expect(compute.kernels.rowEntropy).toMatchObject({ backend: 'js', reason: 'deterministic' });
    expect(compute.kernels.rowEntropy.timing.js).toBeNaN();
    const forced = await createKernels(computeSchema.parse({ backend: 'cpu', kernels: { topMargin: 'js' } }), { workload, measure: { minRuns: 1, maxRuns: 1 } });
    expect(forced.kernels.topMargin).toMatchObject({ backend: 'js', reason: 'forced' });
    expect(calls.topMargin).toBe(4); // one untimed and one timed call on each path, the first time only
  });
});

/** Probability rows with exact ties and zeros, as classifiers and truncation produce. */
const probRows = fc
  .record({ width: fc.integer({ min: 1, max: 12 }), rows: fc.integer({ min: 0, max: 40 }) })
  .chain(({ width, rows }) =>
    fc.record({
      width: fc.constant(width),
      values: fc.array(fc.oneof(fc.constantFrom(0, 0.25, 0.5, 1), fc.float({ min: 0, max: 1, noNaN: true })), { minLength: rows * width, maxLength: rows * width }),
    }),
  )
  .map(({ width, values }) => {
    const m = Float32Array.from(values);
    for (let r = 0; r * width < m.length; r++) {
      let s = 0;
      for (let j = 0; j < width; j++) s += m[r * width + j];
      for (let j = 0; j < width; j++) m[r * width + j] = s > 0 ? m[r * width + j] / s : 1 / width;
    }
    return { width, m };
  });

describe('both paths agree', () => {
  it('on random inputs, on cpu and wasm: topMargin bit for bit, the other kernels within float32 tolerance', async () => {
    const js = new ReferenceCompute();
    for (const name of ['cpu', 'wasm'] as const) {
      const tf = await createCompute(name);
      const all = (backend: string) => Object.fromEntries(KERNELS.map((k) => [k, { kernel: k, backend, reason: 'forced', timing: { js: 0, tfjs: 0 } }]));
      const onTf = new KernelRouter(all(name) as never, js, tf);
      const onJs = new KernelRouter(all('js') as never, js, tf);
      fc.assert(
        fc.property(probRows, probRows, ({ width, m }, other) => {
          expect(Array.from(onTf.topMargin(m, width))).toEqual(Array.from(onJs.topMargin(m, width)));
          close(onTf.rowEntropy(m, width), onJs.rowEntropy(m, width));
          const q = other.width === width && other.m.length === m.length ? other.m : m.slice().reverse();
          close(onTf.jsDivergence(m, q, width), onJs.jsDivergence(m, q, width));
        }),
        { numRuns: 60 },
      );
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 6 }), fc.integer(), (dim, nr, nq, seed) => {
          let s = seed | 1;
          const next = () => ((s = (s * 1103515245 + 12345) | 0) >>> 8) / (1 << 24) - 0.5;
          const job: MinDistanceJob = { dim, refs: Float32Array.from({ length: nr * dim }, next), queries: Float32Array.from({ length: nq * dim }, next) };
          close(onTf.minDistances([job])[0], onJs.minDistances([job])[0]);
        }),
        { numRuns: 60 },
      );
    }
  });
});

function close(a: Float32Array, b: Float32Array): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(b[i])) expect(a[i]).toBe(b[i]);
    else expect(Math.abs(a[i] - b[i]), `${i}: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(1e-5 + 1e-5 * Math.abs(b[i]));
  }
}
