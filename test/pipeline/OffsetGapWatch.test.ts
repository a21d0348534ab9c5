import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { OffsetGapWatch } from '../../src/pipeline/OffsetGapWatch.ts';

describe('OffsetGapWatch', () => {
  it('counts a skip only where the log starts past the offset the partition should resume at', async () => {
    let low = 0n;
    const metrics = createMetrics();
    const watch = new OffsetGapWatch('ev', { committed: async () => new Map([[0, 10n], [1, -1n]]), lowWatermarks: async () => new Map([[0, low], [1, low]]) }, silentLogger(), metrics);
    watch.joined();
    // Resumes where it committed; a new partition (-1) is never a skip.
    expect(await watch.check(0, '10')).toBe(0);
    expect(await watch.check(1, '500')).toBe(0);
    watch.committed(0, '20');
    // A gap the log still covers (transaction markers, compaction) is no skip…
    expect(await watch.check(0, '25')).toBe(0);
    // …one past the log start is: 20..39 were never seen.
    low = 40n;
    expect(await watch.check(0, '40')).toBe(20);
    expect((await metrics.offsetsSkipped.get()).values).toEqual([expect.objectContaining({ value: 20, labels: { topic: 'ev', partition: '0' } })]);
  });
});
