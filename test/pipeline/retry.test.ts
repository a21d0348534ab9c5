import { describe, expect, it } from 'vitest';
import { ProbewatchError } from '../../src/errors.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { withRetry } from '../../src/pipeline/retry.ts';

const noSleep = { sleep: async () => {}, logger: silentLogger(), what: 'test' };

function failing(times: number, error: () => Error) {
  let calls = 0;
  const fn = async () => {
    calls++;
    if (calls <= times) throw error();
    return calls;
  };
  return { fn, calls: () => calls };
}

describe('withRetry', () => {
  it('retries retriable ProbewatchErrors until success, heartbeating while it waits', async () => {
    const f = failing(3, () => new ProbewatchError('PW_SINK', 'down', { retriable: true }));
    let beats = 0;
    const waits: number[] = [];
    const result = await withRetry(f.fn, { ...noSleep, baseMs: 100, maxMs: 150, onWait: async () => void beats++, sleep: async (ms) => void waits.push(ms) });
    expect(result).toBe(4);
    expect(beats).toBe(3);
    expect(waits).toHaveLength(3);
    expect(waits.every((w) => w >= 0 && w <= 150)).toBe(true);
  });

  it('rethrows at once a non-retriable or foreign error', async () => {
    const f = failing(1, () => new ProbewatchError('PW_SINK', 'too large', { retriable: false }));
    await expect(withRetry(f.fn, noSleep)).rejects.toMatchObject({ code: 'PW_SINK', retriable: false });
    expect(f.calls()).toBe(1);
    const g = failing(1, () => new TypeError('bug'));
    await expect(withRetry(g.fn, noSleep)).rejects.toBeInstanceOf(TypeError);
    expect(g.calls()).toBe(1);
  });

  it('gives up with the last error once told to stop', async () => {
    let keepGoing = 2;
    const f = failing(10, () => new ProbewatchError('PW_STATE', 'redis down', { retriable: true }));
    await expect(withRetry(f.fn, { ...noSleep, shouldContinue: () => keepGoing-- > 0 })).rejects.toMatchObject({ code: 'PW_STATE' });
    expect(f.calls()).toBe(3);
  });
});
