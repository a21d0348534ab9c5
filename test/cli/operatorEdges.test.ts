import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { levelRank } from '../../src/contract.ts';

const bin = new URL('../../bin/probewatch', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** Runs the CLI as a user would; resolves with its exit code and output (never rejects). */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  // The developer's own overrides must not leak in.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PROBEWATCH_')));
  return new Promise((resolve) => {
    execFile(bin, args, { env: { ...inherited, ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function tmpFile(name: string, content?: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'pw-edges-')), name);
  if (content !== undefined) writeFileSync(path, content);
  return path;
}

describe('probewatch for a new user', () => {
  it('prints its version', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await cli([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(pkg.version);
    }
  });

  it('names the environment variable, not the file, when an override is invalid', async () => {
    const file = tmpFile('probewatch.yaml', 'http:\n  port: 9464\n');
    const port = await cli(['check-config', file], { PROBEWATCH_HTTP_PORT: 'not-a-port' });
    expect(port.code).toBe(2);
    expect(port.stderr).toMatch(/^probewatch: the environment overrides are invalid:\n {2}environment variable PROBEWATCH_HTTP_PORT \(http\.port\): .*expected number/);
    expect(port.stderr).not.toContain(file);
    expect(port.stderr).not.toContain('not-a-port');

    const unknown = await cli(['check-config', file], { PROBEWATCH__kafka__bokers: 'b:1' });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/environment variable PROBEWATCH__kafka__bokers \(kafka\): unknown key 'bokers'/);

    const yaml = await cli(['check-config', file], { PROBEWATCH__policy__shadow: '[unclosed' });
    expect(yaml.code).toBe(2);
    expect(yaml.stderr).toMatch(/^probewatch: environment variable PROBEWATCH__policy__shadow \(policy\.shadow\) is not a valid value/);
    expect(yaml.stderr).not.toMatch(/\n\s+at /);

    // A bad key in the file is still reported against the file.
    const inFile = await cli(['check-config', tmpFile('bad.yaml', 'http:\n  port: nope\n')], { PROBEWATCH_LOG_LEVEL: 'warn' });
    expect(inFile.stderr).toMatch(/bad\.yaml is invalid:\n {2}http\.port: /);
  }, 60_000);

  it('rejects bad demo arguments with a clear message', async () => {
    const cases: [string[], RegExp][] = [
      [['demo', '--minutes', 'ten'], /option '--minutes <n>' argument 'ten' is invalid\. expected a positive integer/],
      [['demo', '--minutes', '0'], /option '--minutes <n>' argument '0' is invalid/],
      [['demo', '--speed', '-2'], /option '--speed <x>' argument '-2' is invalid\. expected a number >= 0/],
      [['demo', '--seed', '1.5'], /option '--seed <n>' argument '1\.5' is invalid\. expected an integer/],
      [['demo', '--bogus'], /unknown option '--bogus'/],
      [['demo', 'extra'], /too many arguments for 'demo'/],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(args)));
    results.forEach((r, i) => {
      expect(r.code, cases[i][0].join(' ')).not.toBe(0);
      expect(r.stderr.split('\n')[0]).toMatch(cases[i][1]);
      expect(r.stdout).toBe('');
    });
    const unwritable = await cli(['demo', '--minutes', '1', '--speed', '0', '--record', '/nonexistent-dir/events.ndjson']);
    expect(unwritable.code).toBe(2);
    expect(unwritable.stderr).toMatch(/^probewatch: cannot write the --record file \/nonexistent-dir\/events\.ndjson: ENOENT/m);
  }, 60_000);

  it('demo --record writes the event stream as NDJSON that replay accepts', async () => {
    const file = tmpFile('demo.ndjson');
    const demo = await cli(['demo', '--minutes', '10', '--speed', '0', '--seed', '3', '--record', file]);
    expect(demo.code).toBe(0);
    expect(demo.stdout).toContain(`events recorded to ${file}`);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const rows = [...demo.stdout.matchAll(/^ {2}(\S+) +(benign|heavy|attacker) +(\d+) +[\d.]+ +(\w+)/gm)].map((m) => ({ key: m[1], role: m[2], calls: Number(m[3]) }));
    expect(rows.length).toBeGreaterThan(10);
    // Every call the gateways answered (or refused) is in the file, once.
    expect(lines.length).toBe(rows.reduce((n, r) => n + r.calls, 0));
    expect(new Set(lines.map((l) => JSON.parse(l).event_id)).size).toBe(lines.length);

    const replay = await cli(['replay', file]);
    expect(replay.code).toBe(0);
    expect(replay.stderr).toContain(`replayed ${lines.length} events (0 skipped) over ${rows.length} keys`);
    const finals = replay.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((s) => s.final);
    expect(finals.map((f) => [f.api_key, f.events_seen]).sort()).toEqual(rows.map((r) => [r.key, r.calls]).sort());
    // The recorded attackers are found again on replay.
    const attackers = new Set(rows.filter((r) => r.role === 'attacker').map((r) => r.key));
    expect(finals.filter((f) => attackers.has(f.api_key) && levelRank(f.level) > 0).length).toBeGreaterThan(0);
  }, 120_000);
});
