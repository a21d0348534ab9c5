import { describe, expect, it } from 'vitest';
import { RetainedPartitions } from '../../src/pipeline/RetainedPartitions.ts';

const kept = (r: RetainedPartitions, ...keys: number[][]) => {
  const keep = r.take();
  if (keep === undefined || keep === 'all') return keep;
  return keys.map((partitions) => keep(partitions));
};

describe('RetainedPartitions', () => {
  it('drops everything at the first join, then keeps the keys of partitions kept through each rebalance', () => {
    const r = new RetainedPartitions();
    r.joined('m1', [0, 1, 2, 3]);
    expect(r.take()).toBe('all');
    expect(r.take()).toBeUndefined();
    // A second member joins: 2 and 3 go to it.
    r.joined('m1', [0, 1]);
    expect(kept(r, [0], [1], [2], [3], [0, 2], [])).toEqual([true, true, false, false, false, false]);
  });

  it('drops a partition that moved away and came back between two batches', () => {
    const r = new RetainedPartitions();
    r.joined('m1', [0, 1]);
    r.take();
    r.joined('m1', [0]);
    r.joined('m1', [0, 1]);
    expect(kept(r, [0], [1])).toEqual([true, false]);
  });

  it('drops everything after a new member id (it was out of the group) or a crash', () => {
    const r = new RetainedPartitions();
    r.joined('m1', [0, 1]);
    r.take();
    r.joined('m2', [0, 1]);
    expect(r.take()).toBe('all');
    r.joined('m2', [0, 1]);
    r.forgetAll();
    r.joined('m2', [0, 1]);
    expect(r.take()).toBe('all');
  });
});
