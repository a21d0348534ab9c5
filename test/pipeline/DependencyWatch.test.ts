import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.ts';
import { DependencyWatch } from '../../src/pipeline/DependencyWatch.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, logger: createLogger('info', out) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('DependencyWatch', () => {
  it('logs a hanging dependency once by name, keeps it stuck through failures, and logs its recovery once', async () => {
    const { lines, logger } = capture();
    const changes: [string, boolean][] = [];
    const watch = new DependencyWatch({ stuckAfterMs: 100, logger, onChange: (d, s) => changes.push([d, s]) });
    watch.start();
    try {
      const store = watch.wrap('redis', {
        hang: (ms: number) => sleep(ms).then(() => 'late'),
        fail: (ms: number) => sleep(ms).then(() => Promise.reject(new Error('timeout'))),
        sync: () => 7,
      });
      expect(store.sync()).toBe(7);
      const hanging = [store.hang(400), store.hang(400), store.hang(400)];
      await sleep(250);
      expect(watch.stuck()).toEqual([{ dependency: 'redis', waitingMs: expect.any(Number) }]);
      expect(watch.stuck()[0].waitingMs).toBeGreaterThanOrEqual(200);
      await expect(store.fail(10)).rejects.toThrow('timeout');
      expect(await Promise.all(hanging)).toEqual(['late', 'late', 'late']);
      const warnings = lines.filter((l) => l.level === 40);
      expect(warnings).toEqual([expect.objectContaining({ dependency: 'redis', msg: 'redis is not answering' })]);
      expect(lines.filter((l) => l.msg === 'redis is answering again')).toHaveLength(1);
      expect(changes).toEqual([['redis', true], ['redis', false]]);
      expect(watch.stuck()).toEqual([]);

      // A failing call that hangs and fails keeps kafka stuck; only a success clears it.
      const kafka = watch.wrap('kafka', { send: (ok: boolean, ms: number) => sleep(ms).then(() => (ok ? 'ok' : Promise.reject(new Error('request timed out')))) });
      await expect(kafka.send(false, 200)).rejects.toThrow();
      await sleep(60);
      await expect(kafka.send(false, 200)).rejects.toThrow();
      expect(lines.filter((l) => l.msg === 'kafka is not answering')).toHaveLength(1);
      expect(lines.filter((l) => l.msg === 'kafka is answering again')).toHaveLength(0);
      await expect(kafka.send(true, 5)).resolves.toBe('ok');
      await expect(kafka.send(true, 5)).resolves.toBe('ok');
      expect(lines.filter((l) => l.msg === 'kafka is answering again')).toHaveLength(1);
      expect(lines.filter((l) => l.msg === 'kafka is not answering')).toHaveLength(1);
    } finally {
      watch.stop();
    }
  });
});
