import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { runConfig, runSetup, spawnProbewatch } from './helpers.ts';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** What a new user sees: the lines that are not JSON logs, and the error-level JSON lines. */
function plainLines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{'));
}

describe('probewatch run when a dependency cannot be reached', () => {
  it('without a reachable broker prints one line naming kafka.brokers and PROBEWATCH_KAFKA_BROKERS, and exits 1', async () => {
    const setup = await runSetup('nobroker');
    const port = await closedPort();
    const child = spawnProbewatch(runConfig(setup), { PROBEWATCH_KAFKA_BROKERS: `127.0.0.1:${port}` });
    const { code } = await child.exited;
    const text = child.tail(1_000);
    expect(code).toBe(1);
    const plain = plainLines(text);
    expect(plain).toHaveLength(1);
    expect(plain[0]).toMatch(new RegExp(`^probewatch: cannot connect to Kafka at 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*\\(set kafka\\.brokers in the config file or PROBEWATCH_KAFKA_BROKERS\\)$`));
    // No stack traces, no error-level log lines beside it.
    expect(text).not.toMatch(/\n\s+at |"stack"/);
    expect(child.logs.filter((l) => Number(l.level) >= 50)).toEqual([]);
  }, 60_000);

  it('without a reachable Redis names redis.url, hiding the password', async () => {
    const setup = await runSetup('noredis');
    const port = await closedPort();
    const child = spawnProbewatch(runConfig(setup, { redis: { url: `redis://:hunter2@127.0.0.1:${port}` } }));
    const { code } = await child.exited;
    const plain = plainLines(child.tail(1_000));
    expect(code).toBe(1);
    expect(plain).toEqual([expect.stringMatching(new RegExp(`^probewatch: cannot connect to Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*\\(set redis\\.url in the config file or PROBEWATCH_REDIS_URL\\)$`))]);
    expect(child.tail(1_000)).not.toContain('hunter2');
  }, 60_000);

  it('with its HTTP port taken names http.port', async () => {
    const setup = await runSetup('porttaken');
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const { port } = taken.address() as { port: number };
    try {
      const child = spawnProbewatch(runConfig(setup, { http: { host: '127.0.0.1', port } }));
      const { code } = await child.exited;
      expect(code).toBe(1);
      expect(plainLines(child.tail(1_000))).toEqual([expect.stringMatching(/^probewatch: cannot serve \/metrics on 127\.0\.0\.1:\d+: .*EADDRINUSE.*\(set http\.port in the config file or PROBEWATCH_HTTP_PORT\)$/)]);
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
  }, 60_000);
});
