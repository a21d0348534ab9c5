import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { RunnerHealth } from '../../src/pipeline/KafkaRunner.ts';
import { type LagSource, LivenessMonitor } from '../../src/pipeline/LivenessMonitor.ts';

/** The broker's answers as plain data: high watermarks and the group's committed offsets per partition. */
class BrokerView implements LagSource {
  high = new Map<number, number>();
  committed = new Map<number, number>();
  failing = false;
  async connect() {}
  async disconnect() {}
  async fetchTopicOffsets() {
    if (this.failing) throw new Error('broker not answering');
    return [...this.high].map(([partition, high]) => ({ partition, offset: String(high), high: String(high), low: '0' }));
  }
  async fetchOffsets() {
    return [{ topic: 't', partitions: [...this.committed].map(([partition, offset]) => ({ partition, offset: String(offset), metadata: null })) }];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LivenessMonitor', () => {
  it('fails /healthz once input waits longer than stallAfterMs without a batch, reads lag for owned partitions only, and recovers', async () => {
    const broker = new BrokerView();
    const metrics = createMetrics(new Registry());
    const runner: RunnerHealth = { healthy: true, status: 'joined', groupId: 'g', partitions: [0, 1], batches: 1, lastBatchAt: new Date().toISOString() };
    const monitor = new LivenessMonitor(broker, { topic: 't', groupId: 'g', stallAfterMs: 150, lagEveryMs: 60_000, runner: () => runner, stuck: () => [{ dependency: 'redis', waitingMs: 200 }], logger: silentLogger(), metrics });
    const lag = async () => Object.fromEntries((await metrics.consumerLag.get()).values.map((v) => [v.labels.partition, v.value]));

    broker.high = new Map([[0, 10], [1, 5], [2, 7]]);
    broker.committed = new Map([[0, 10], [1, 5], [2, 0]]);
    await monitor.poll();
    expect(monitor.health()).toMatchObject({ healthy: true, lag: 0 });
    expect(await lag()).toEqual({ '0': 0, '1': 0 });

    broker.high.set(0, 110);
    await monitor.poll();
    await sleep(50);
    expect(monitor.health()).toMatchObject({ healthy: true, lag: 100 });
    await sleep(150);
    expect(monitor.health()).toMatchObject({ healthy: false, lag: 100 });
    expect(monitor.health().reason).toMatch(/^no batch completed for \d+ s while 100 messages wait; waiting on redis$/);
    expect(await lag()).toEqual({ '0': 100, '1': 0 });

    // A batch completes: healthy again though input still waits.
    runner.lastBatchAt = new Date().toISOString();
    expect(monitor.health().healthy).toBe(true);
    // The partition moved to another member: its lag is no longer reported here.
    runner.partitions = [1];
    await monitor.poll();
    expect(await lag()).toEqual({ '1': 0 });
    expect(monitor.health()).toMatchObject({ healthy: true, lag: 0 });

    // A broker that cannot be asked, for longer than stallAfterMs: unhealthy too.
    broker.failing = true;
    await monitor.poll();
    expect(monitor.health().healthy).toBe(true);
    await sleep(200);
    await monitor.poll();
    expect(monitor.health()).toMatchObject({ healthy: false });
    expect(monitor.health().reason).toMatch(/^cannot read the consumer lag from the broker for \d+ s$/);
    broker.failing = false;
    await monitor.poll();
    expect(monitor.health().healthy).toBe(true);

    runner.healthy = false;
    runner.status = 'rebalancing';
    expect(monitor.health()).toMatchObject({ healthy: false, reason: 'consumer rebalancing' });
  });

  it('stops only after a lag read in flight has finished, so it cannot reconnect the client it disconnects', async () => {
    const calls: string[] = [];
    let answer!: () => void;
    const slow: LagSource = {
      connect: async () => void calls.push('connect'),
      disconnect: async () => void calls.push('disconnect'),
      fetchTopicOffsets: () => new Promise((resolve) => (answer = () => (calls.push('answered'), resolve([])))),
      fetchOffsets: async () => [{ topic: 't', partitions: [] }],
    };
    const runner: RunnerHealth = { healthy: true, status: 'joined', groupId: 'g', partitions: [0], batches: 1 };
    const monitor = new LivenessMonitor(slow, { topic: 't', groupId: 'g', stallAfterMs: 150, lagEveryMs: 60_000, runner: () => runner, logger: silentLogger() });
    const read = monitor.poll();
    const stopped = monitor.stop();
    await sleep(20);
    expect(calls).toEqual([]);
    answer();
    await Promise.all([read, stopped]);
    expect(calls).toEqual(['answered', 'disconnect']);
  });
});
