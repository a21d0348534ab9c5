/**
 * A real Prometheus (Debian's `prometheus`) for integration tests: its own
 * config and data directory, a loopback port, scraping and evaluating rules
 * every second. Stopped and its directory removed after the test file.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { onCleanup, waitFor } from './helpers.ts';

export interface PrometheusOptions {
  /** host:port targets of the one scrape job. */
  targets: string[];
  job: string;
  /** Absolute paths of rule files to load. */
  ruleFiles: string[];
}

/** One sample of an instant query's vector result. */
export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

const REQUEST_TIMEOUT_MS = 10_000;

export class PrometheusServer {
  private output = '';
  private readonly exited: Promise<unknown>;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-20_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
  }

  static async start(options: PrometheusOptions): Promise<PrometheusServer> {
    if (spawnSync('prometheus', ['--version']).status !== 0) throw new Error("prometheus is not installed: apt-get install prometheus (Debian's package; .ci/run installs it)");
    const dir = mkdtempSync(join(tmpdir(), 'pw-prometheus-'));
    const config = {
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: options.ruleFiles,
      scrape_configs: [{ job_name: options.job, static_configs: [{ targets: options.targets }] }],
    };
    writeFileSync(join(dir, 'prometheus.yml'), toYaml(config));
    const port = await freePort();
    const child = spawn(
      'prometheus',
      [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const server = new PrometheusServer(child, `http://127.0.0.1:${port}`);
    onCleanup(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await server.exited;
      }
      rmSync(dir, { recursive: true, force: true });
    });
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}`);
        return (await fetch(`${server.url}/-/ready`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).ok;
      },
      () => `prometheus ready\n${server.tail()}`,
      30_000,
      200,
    );
    return server;
  }

  /** An instant query's vector (throws on a query error, naming the query). */
  async query(expr: string): Promise<Sample[]> {
    const body = await this.api(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    if (body.data.resultType !== 'vector') throw new Error(`${expr}: expected a vector, got ${body.data.resultType}`);
    return body.data.result as Sample[];
  }

  /** Values of a label across the series `match` selects. */
  async labelValues(label: string, match: string): Promise<string[]> {
    return (await this.api(`/api/v1/label/${encodeURIComponent(label)}/values?match[]=${encodeURIComponent(match)}`)).data as string[];
  }

  /** Alerts pending or firing now. */
  async alerts(): Promise<{ labels: Record<string, string>; state: string }[]> {
    return (await this.api('/api/v1/alerts')).data.alerts;
  }

  /** Rule groups as loaded (to check the rule files were read). */
  async rules(): Promise<{ name: string; rules: { name: string; health: string; lastError?: string }[] }[]> {
    return (await this.api('/api/v1/rules')).data.groups;
  }

  /** Prometheus's own log, for failure messages. */
  tail(): string {
    return this.output.split('\n').slice(-20).join('\n');
  }

  private async api(path: string) {
    // Bounded, so a request a loaded Prometheus never answers fails and the caller's wait tries again.
    const res = await fetch(this.url + path, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const body = (await res.json()) as { status: string; error?: string; data: any };
    if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? res.status}`);
    return body;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
