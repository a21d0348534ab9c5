import { describe, expect, it } from 'vitest';
import { KERNELS } from '../../src/compute/kernelChoice.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { WorkerOffload } from '../../src/parallel/WorkerOffload.ts';

describe('detector workers’ kernels', () => {
  it('run in plain JavaScript under auto (the same numbers as the main thread, TensorFlow.js not loaded), and as the config forces', async () => {
    const auto = await WorkerOffload.start(parseConfig({}), 2);
    try {
      expect(auto.kernels).toHaveLength(2);
      for (const routes of auto.kernels) for (const k of KERNELS) expect(routes[k], k).toBe('js');
    } finally {
      await auto.close();
    }
    const forced = await WorkerOffload.start(parseConfig({ compute: { kernels: { topMargin: 'js', jsDivergence: 'tfjs' } } }), 1);
    try {
      expect(forced.kernels[0].topMargin).toBe('js');
      expect(forced.kernels[0].jsDivergence).not.toBe('js');
      expect(forced.kernels[0].rowEntropy).toBe('js');
    } finally {
      await forced.close();
    }
  });
});
