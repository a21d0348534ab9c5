/**
 * A redis-server of the test's own on a spare loopback port, so killing,
 * restarting or freezing it hurts no other test (the shared server at
 * 127.0.0.1:6379 stays untouched).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

/** PEM files for a TLS-only redis-server that requires client certificates from `ca`. */
export interface OwnRedisTls {
  ca: string;
  cert: string;
  key: string;
  /** The client's certificate and key for the server's own readiness probe. */
  clientCert: string;
  clientKey: string;
}

/** redis-server without persistence: a restart starts EMPTY. With `tls`, it listens only for mutual TLS. */
export class OwnRedis {
  private child: ChildProcess | undefined;
  private readonly probeOptions: RedisOptions;
  constructor(
    readonly port: number,
    private readonly tls?: OwnRedisTls,
  ) {
    this.probeOptions = tls ? { tls: { ca: [readFileSync(tls.ca)], cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey) } } : {};
  }

  static async started(tls?: OwnRedisTls): Promise<OwnRedis> {
    const own = new OwnRedis(await freePort(), tls);
    await own.start();
    return own;
  }

  get url(): string {
    return `${this.tls ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child!.pid!;
  }

  async start(): Promise<void> {
    const t = this.tls;
    const listen = t
      ? ['--port', '0', '--tls-port', String(this.port), '--tls-cert-file', t.cert, '--tls-key-file', t.key, '--tls-ca-cert-file', t.ca, '--tls-auth-clients', 'yes']
      : ['--port', String(this.port)];
    const child = spawn('redis-server', [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    this.child = child;
    onCleanup(() => this.stop());
    const probe = new Redis({ host: '127.0.0.1', port: this.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...this.probeOptions });
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
    const redis = new Redis({ host: '127.0.0.1', port: this.port, maxRetriesPerRequest: 1, retryStrategy: () => 100, ...this.probeOptions, ...options });
    redis.on('error', () => {});
    onCleanup(() => redis.disconnect());
    return redis;
  }
}
