/**
 * bench:speed, replay scenario: `probewatch replay` (all detectors) against a
 * bare `JSON.parse` loop over the same NDJSON file, each in a fresh child
 * process, alternated round by round; medians. When the CLI accepts
 * `replay --workers N` (looked up in `replay --help` at run time), two
 * workers are measured too, and their output compared with one worker's.
 * The same replay with only the volume detector and with none shows the
 * floor the rest of the pipeline sets (parsing, grouping, fusion, ladder,
 * output): what detectors could at best gain.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DETECTORS } from '../detectors/index.ts';
import { ROOT } from './utils/broker.ts';
import { median } from './utils/timing.ts';

/** Reads the file as a stream, splits lines, `JSON.parse`s each: what any consumer of NDJSON does at least. */
const PARSE_LOOP = `
const { createReadStream } = require('node:fs');
(async () => {
  const t0 = performance.now();
  let n = 0, rest = '';
  for await (const chunk of createReadStream(process.argv[1], { encoding: 'utf8', highWaterMark: 1 << 16 })) {
    const lines = (rest + chunk).split('\\n');
    rest = lines.pop();
    for (const line of lines) if (line) { JSON.parse(line); n++; }
  }
  if (rest) { JSON.parse(rest); n++; }
  process.stdout.write(JSON.stringify({ events: n, seconds: (performance.now() - t0) / 1000 }));
})();
`;

export interface ReplayRatio {
  rounds: number;
  parseEps: number;
  replayEps: number;
  /** Present when `replay --workers` exists. */
  workers2?: { eps: number; identicalOutput: boolean };
  /** The same replay with the volume detector only, and with no detector: the pipeline's own floor. */
  volumeOnlyEps?: number;
  noDetectorsEps?: number;
  events: number;
}

interface Timed {
  events: number;
  seconds: number;
  sha?: string;
}

function parseLoop(file: string): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', PARSE_LOOP, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Timed) : reject(new Error(`parse loop exited with ${code}`))));
  });
}

/**
 * `probewatch replay FILE [--workers N]` as a user runs it; the time is the
 * one the CLI reports for the replay itself ("replayed N events … in S s"),
 * so the process start-up (TypeScript loader, TensorFlow.js) is left out.
 */
function replayCli(file: string, expected: number, workers?: number, config?: string): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const args = ['replay', file, ...(workers ? ['--workers', String(workers)] : []), ...(config ? ['-c', config] : [])];
    const child = spawn(join(ROOT, 'bin/probewatch'), args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const hash = createHash('sha256');
    child.stdout.on('data', (b: Buffer) => hash.update(b));
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-8_000)));
    const started = performance.now();
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`replay exited with ${code}: ${err}`));
      const m = /replayed (\d+) events .* in ([\d.]+) s/.exec(err);
      if (m) return resolve({ events: Number(m[1]), seconds: Number(m[2]), sha: hash.digest('hex') });
      // A CLI that no longer prints its own timing: the whole process's time, start-up included (slower than the truth).
      process.stderr.write('replay printed no "replayed N events … in S s" line: timing the whole process\n');
      resolve({ events: expected, seconds: (performance.now() - started) / 1000, sha: hash.digest('hex') });
    });
  });
}

/** Whether this tree's CLI has `replay --workers`. */
export function replayHasWorkers(): boolean {
  const help = execFileSync(join(ROOT, 'bin/probewatch'), ['replay', '--help'], { cwd: ROOT, encoding: 'utf8' });
  return /--workers\b/.test(help);
}

/** A config file enabling only `keep` of the registry's detectors. */
function detectorsOnly(dir: string, keep: readonly string[]): string {
  const file = join(dir, `only-${keep.join('-') || 'none'}.yaml`);
  const lines = DETECTORS.map((d) => `  ${d.name}: { enabled: ${keep.includes(d.name)} }`);
  writeFileSync(file, `detectors:\n${lines.join('\n')}\n`);
  return file;
}

export async function replayRatio(file: string, rounds: number, log: (s: string) => void): Promise<ReplayRatio> {
  const withWorkers = replayHasWorkers();
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-floor-'));
  const volumeOnly = detectorsOnly(dir, ['volume']);
  const none = detectorsOnly(dir, []);
  const parse: number[] = [];
  const one: number[] = [];
  const two: number[] = [];
  const vol: number[] = [];
  const bare: number[] = [];
  let identical = true;
  let events = 0;
  for (let r = 0; r < rounds; r++) {
    const p = await parseLoop(file);
    parse.push(p.events / p.seconds);
    const a = await replayCli(file, p.events);
    one.push(a.events / a.seconds);
    events = a.events;
    let line = `replay round ${r + 1}/${rounds}: parse loop ${Math.round(p.events / p.seconds)}/s, replay ${Math.round(a.events / a.seconds)}/s`;
    if (withWorkers) {
      const b = await replayCli(file, p.events, 2);
      two.push(b.events / b.seconds);
      identical &&= b.sha === a.sha;
      line += `, --workers 2 ${Math.round(b.events / b.seconds)}/s (output ${b.sha === a.sha ? 'identical' : 'DIFFERENT'})`;
    }
    const v = await replayCli(file, p.events, undefined, volumeOnly);
    const n = await replayCli(file, p.events, undefined, none);
    vol.push(v.events / v.seconds);
    bare.push(n.events / n.seconds);
    line += `, volume only ${Math.round(v.events / v.seconds)}/s, no detectors ${Math.round(n.events / n.seconds)}/s`;
    log(line);
  }
  rmSync(dir, { recursive: true, force: true });
  return {
    rounds,
    events,
    parseEps: median(parse),
    replayEps: median(one),
    workers2: withWorkers ? { eps: median(two), identicalOutput: identical } : undefined,
    volumeOnlyEps: median(vol),
    noDetectorsEps: median(bare),
  };
}
