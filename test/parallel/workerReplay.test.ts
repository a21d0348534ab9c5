import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { replay } from '../../src/cli/replay.ts';
import { formatEventLine } from '../../src/codec/ndjson.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { OFFLOADED, type Offloading } from '../../src/parallel/offloadPlan.ts';
import { SimulatedTraffic } from '../../src/sim/SimulatedTraffic.ts';
import { TextSink } from '../../src/sinks/TextSink.ts';

const exec = promisify(execFile);
const bin = new URL('../../bin/probewatch', import.meta.url).pathname;

/** The demo's traffic with more users: benign users, a heavy batch scorer and two attackers. */
function recordedStream(): { file: string; keys: number } {
  const start = Date.UTC(2026, 0, 5, 9);
  const events = new SimulatedTraffic(start, 3, 30).until(start + 18 * 60_000);
  const file = join(mkdtempSync(join(tmpdir(), 'pw-workers-')), 'events.ndjson');
  writeFileSync(file, events.map(formatEventLine).join('\n') + '\n');
  return { file, keys: new Set(events.map((e) => e.api_key)).size };
}

async function replayed(file: string, workers?: number, offloaded?: Readonly<Record<string, Offloading>>): Promise<string> {
  const sink = new TextSink();
  const discard = new Writable({ write: (_c, _e, done) => done() });
  // Small batches: more batch parts, epoch cuts and level changes in mid-batch (evidence asked of the workers).
  await replay(file, parseConfig({}), { out: sink, err: discard, batchSize: 500, workers, offloaded, now: Date.UTC(2026, 0, 6) });
  return sink.text;
}

describe('replay --workers', () => {
  it('prints byte for byte what one worker and no worker print, on a recorded stream with attacks and many keys', async () => {
    const { file, keys } = recordedStream();
    expect(keys).toBeGreaterThanOrEqual(30);
    const inProcess = await replayed(file);
    const one = await replayed(file, 1);
    const two = await replayed(file, 2);
    // Key sharding of both detectors that keep nothing across keys, over three workers.
    const sharded = await replayed(file, 3, { ...OFFLOADED, 'grid-sweep': { mode: 'sharded' }, 'off-manifold': { mode: 'sharded' } });

    const lines = inProcess.trim().split('\n').map((l) => JSON.parse(l));
    const finals = lines.filter((r) => r.final);
    expect(finals).toHaveLength(keys);
    // The stream is worth comparing: keys reach truncate or above on evidence quoted from offloaded detectors.
    const escalated = lines.filter((r) => !r.final && ['truncate', 'deceive', 'block'].includes(r.level));
    expect(escalated.length).toBeGreaterThan(0);
    expect(lines.some((r) => r.evidence.some((e: string) => /^(grid-sweep|recurring-offsets|off-manifold|boundary-probing|entropy|output-drift): /.test(e)))).toBe(true);

    expect(one).toBe(inProcess);
    expect(two).toBe(one);
    expect(sharded).toBe(one);
  }, 600_000);

  it('reads ahead without changing what is skipped or printed: bad lines, a batch cut mid-chunk, the same stderr', async () => {
    const start = Date.UTC(2026, 0, 5, 9);
    const lines = new SimulatedTraffic(start, 5, 8).until(start + 6 * 60_000).map(formatEventLine);
    lines.splice(700, 0, 'not json', '{"event_id":"x"}', '');
    lines.splice(1500, 0, lines[1499]);
    const file = join(mkdtempSync(join(tmpdir(), 'pw-workers-')), 'events.ndjson');
    writeFileSync(file, lines.join('\n') + '\n');
    const run = async (workers?: number) => {
      const out = new TextSink();
      const err = new TextSink();
      const summary = await replay(file, parseConfig({}), { out, err, batchSize: 333, workers, now: Date.UTC(2026, 0, 6) });
      return { out: out.text, err: err.text, events: summary.events, skipped: summary.skipped };
    };
    const alone = await run();
    expect(alone.skipped).toBeGreaterThanOrEqual(2);
    expect(alone.err).toMatch(/events\.ndjson:701: skipped/);
    expect(await run(1)).toEqual(alone);
  }, 300_000);

  it('runs workers from the command line, whose heap settings worker threads refuse as options, with the output of no worker', async () => {
    const start = Date.UTC(2026, 0, 5, 9);
    const file = join(mkdtempSync(join(tmpdir(), 'pw-workers-')), 'events.ndjson');
    writeFileSync(file, new SimulatedTraffic(start, 4, 6).until(start + 5 * 60_000).map(formatEventLine).join('\n') + '\n');
    // bin/probewatch starts node with --max-semi-space-size; the parent's --max-old-space-size is a user's own.
    const alone = await exec(process.execPath, ['--max-old-space-size=3072', bin, 'replay', file]);
    const workers = await exec(bin, ['replay', file, '--workers', '2']);
    const both = await exec(process.execPath, ['--max-old-space-size=3072', '--max-semi-space-size=32', bin, 'replay', file, '--workers', '2']);
    expect(alone.stdout.split('\n').length).toBeGreaterThan(10);
    expect(workers.stdout).toBe(alone.stdout);
    expect(both.stdout).toBe(alone.stdout);
  }, 300_000);

  it('refuses a bad --workers value with a clear message', async () => {
    const { file } = { file: join(mkdtempSync(join(tmpdir(), 'pw-workers-')), 'empty.ndjson') };
    writeFileSync(file, '');
    const cases: [string, RegExp][] = [
      ['0', /option '--workers <n>' argument '0' is invalid\. expected a positive integer\./],
      ['two', /option '--workers <n>' argument 'two' is invalid\. expected a positive integer\./],
      ['1.5', /option '--workers <n>' argument '1\.5' is invalid\. expected a positive integer\./],
      ['65', /option '--workers <n>' argument '65' is invalid\. expected a positive integer up to 64\./],
    ];
    const results = await Promise.all(
      cases.map(([value]) => exec(bin, ['replay', file, '--workers', value]).then(() => ({ code: 0, stderr: '', stdout: '' }), (err: { code: number; stderr: string; stdout: string }) => err)),
    );
    results.forEach((r, i) => {
      expect(r.code, cases[i][0]).not.toBe(0);
      expect(r.stderr.split('\n')[0]).toMatch(cases[i][1]);
      expect(r.stdout).toBe('');
    });
  }, 120_000);
});
