/**
 * A redis-server of the test's own on a spare loopback port, so killing,
 * restarting or freezing it hurts no other test (the shared server at
 * 127.0.0.1:6379 stays untouched).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { onCleanup, waitFor } from './helpers.ts';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** redis-server without persistence: a restart starts EMPTY. `extraArgs` e.g. for TLS. */
export class OwnRedis {
  private child: ChildProcess | undefined;
  constructor(
    readonly port: number,
    private readonly extraArgs: string[] = [],
    private readonly probeOptions: RedisOptions = {},
  ) {}

  static async started(extraArgs: string[] = [], probeOptions: RedisOptions = {}): Promise<OwnRedis> {
    const own = new OwnRedis(await freePort(), extraArgs, probeOptions);
    await own.start();
    return own;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child!.pid!;
  }

  async start(): Promise<void> {
    const portArgs = this.extraArgs.includes('--tls-port') ? [] : ['--port', String(this.port)];
    const child = spawn('redis-server', [...portArgs, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...this.extraArgs], { stdio: 'ignore' });
    this.child = child;
    onCleanup(() => this.stop());
    const probe = new Redis({ port: this.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...this.probeOptions });
    probe.on('error', () => {});
    await waitFor(async () => {
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        probe.disconnect();
        return false;
      }
    }, `redis-server on port ${this.port}`, 10_000, 50);
    probe.disconnect();
  }

  /** SIGKILL: the data is gone (no persistence). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGSTOP: the server keeps its connections open and answers nothing. */
  freeze(): void {
    this.child!.kill('SIGSTOP');
  }

  thaw(): void {
    this.child!.kill('SIGCONT');
  }

  /** A client retrying every 100 ms through outages (errors swallowed), disconnected after the file. */
  client(options: RedisOptions = {}): Redis {
    const redis = new Redis({ port: this.port, maxRetriesPerRequest: 1, retryStrategy: () => 100, ...this.probeOptions, ...options });
    redis.on('error', () => {});
    onCleanup(() => redis.disconnect());
    return redis;
  }
}
