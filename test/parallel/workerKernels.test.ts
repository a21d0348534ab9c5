import { describe, expect, it } from 'vitest';
import { EXACT_ON_TFJS, KERNELS } from '../../src/compute/kernelChoice.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { WorkerOffload } from '../../src/parallel/WorkerOffload.ts';

describe('detector workers’ kernels', () => {
  it('are routed as the main thread routes them: plain JavaScript where TensorFlow.js rounds differently, and as the config forces', async () => {
    const auto = await WorkerOffload.start(parseConfig({}), 2);
    try {
      expect(auto.kernels).toHaveLength(2);
      for (const routes of auto.kernels) for (const k of KERNELS) if (!EXACT_ON_TFJS.has(k)) expect(routes[k], k).toBe('js');
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
