/**
 * `npm run bench:speed`: the bar of issue 12, each figure next to its
 * baseline measured in the same run.
 *
 * - replay (benchmarks/speed-replay.ts): `probewatch replay`, all detectors,
 *   one worker (and `--workers 2` when the CLI has it) against a bare
 *   `JSON.parse` loop over the same NDJSON file; bar ≥ 0.25× (0.4× with 2 workers).
 * - run (benchmarks/speed-run.ts): `probewatch run` against a raw KafkaJS
 *   consumer reading the same topic on the broker; bar ≥ 0.10×.
 * - load (benchmarks/speed-load.ts): events offered at fixed rates, p50/p99
 *   event→RiskScore against the raw consumer's event→read; bar: p99 within
 *   2× the raw consumer's p99.
 * - bytes (benchmarks/speed-key-bytes.ts): heap + array buffers per idle key
 *   and per active key (1,000 events; also with packing off, every key
 *   live); bars ≤ 4 kB and ≤ 24 kB.
 *
 * Options: --only replay,run,load,bytes · --users N --minutes N (the
 * recorded stream: the demo's traffic) · --rounds N (replay and run) ·
 * --rates 2000,10000 --load-seconds N --drain-seconds N · --idle-keys N
 * --active-keys N --more-active-keys N (active keys are measured at both
 * counts: the per-key figure is the growth between them, the fixed part
 * apart) · --write (replace the "speed" section of RESULTS.md).
 * The broker is PROBEWATCH_TEST_BROKERS when set, else a mock cluster
 * started here; Redis is PROBEWATCH_TEST_REDIS_URL or 127.0.0.1:6379.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { measureKeyBytes } from './speed-key-bytes.ts';
import { type LoadResult, offeredLoad } from './speed-load.ts';
import { replayRatio } from './speed-replay.ts';
import { type RunRatio, runRatio } from './speed-run.ts';
import { ROOT, startBroker } from './utils/broker.ts';
import { perKeyBetween } from './utils/perKeyBetween.ts';
import { writeResultsSection } from './utils/results.ts';
import { writeSimulatedStream } from './utils/simulatedStream.ts';
import { type SpeedFigures, speedRows, SPEED_HEADERS } from './utils/speedRows.ts';
import { markdownTable, printTable } from './utils/table.ts';

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'replay,run,load,bytes' },
    users: { type: 'string', default: '400' },
    minutes: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    rates: { type: 'string', default: '2000,10000' },
    'load-seconds': { type: 'string', default: '15' },
    'drain-seconds': { type: 'string', default: '30' },
    'idle-keys': { type: 'string', default: '2000' },
    'active-keys': { type: 'string', default: '40' },
    'more-active-keys': { type: 'string', default: '200' },
    write: { type: 'boolean', default: false },
  },
});
const only = new Set(values.only.split(','));
const log = (s: string) => process.stderr.write(`${s}\n`);
const loadAtStart = Math.round(loadavg()[0] * 100) / 100;

const stream = writeSimulatedStream(Number(values.users), Number(values.minutes));
const streamNote = `${stream.events.length.toLocaleString('en-US')} events over ${stream.keys} keys (the demo's traffic: ${stream.users} benign users, a heavy scorer, two attackers; ${stream.minutes} minutes of event time; ${(statSync(stream.file).size / 2 ** 20).toFixed(1)} MiB of NDJSON)`;
log(`stream: ${streamNote}`);
const dir = mkdtempSync(join(tmpdir(), 'pw-bench-speed-'));

const replay = only.has('replay') ? await replayRatio(stream.file, Number(values.rounds), log) : undefined;
let run: RunRatio | undefined;
let load: LoadResult[] | undefined;
if (only.has('run') || only.has('load')) {
  const broker = startBroker(dir);
  try {
    if (only.has('run')) run = await runRatio(broker.brokers, dir, stream.events, Number(values.rounds), log);
    if (only.has('load')) load = await offeredLoad(broker.brokers, dir, stream.events, values.rates.split(',').map(Number), Number(values['load-seconds']), Number(values['drain-seconds']), log);
  } finally {
    broker.stop();
  }
}
let bytes: Required<NonNullable<SpeedFigures['bytes']>> | undefined;
if (only.has('bytes')) {
  const idleKeys = Number(values['idle-keys']);
  const activeKeys = Number(values['active-keys']);
  const moreActiveKeys = Number(values['more-active-keys']);
  bytes = {
    idle: await measureKeyBytes(3, idleKeys, 'all'),
    idleBase: await measureKeyBytes(3, idleKeys, 'volume'),
    active: perKeyBetween(await measureKeyBytes(1_000, activeKeys, 'all'), await measureKeyBytes(1_000, moreActiveKeys, 'all')),
    activeBase: perKeyBetween(await measureKeyBytes(1_000, activeKeys, 'volume'), await measureKeyBytes(1_000, moreActiveKeys, 'volume')),
    idlePrimed: await measureKeyBytes(3, idleKeys, 'all', true),
    activePrimed: perKeyBetween(await measureKeyBytes(1_000, activeKeys, 'all', true), await measureKeyBytes(1_000, moreActiveKeys, 'all', true)),
    activeLive: perKeyBetween(await measureKeyBytes(1_000, activeKeys, 'all', true, false, true), await measureKeyBytes(1_000, moreActiveKeys, 'all', true, false, true)),
    activeLiveBase: perKeyBetween(await measureKeyBytes(1_000, activeKeys, 'volume', true, false, true), await measureKeyBytes(1_000, moreActiveKeys, 'volume', true, false, true)),
    idleQuiet: await measureKeyBytes(3, idleKeys, 'all', false, true),
    idleQuietBase: await measureKeyBytes(3, idleKeys, 'volume', false, true),
    idleQuietPrimed: await measureKeyBytes(3, idleKeys, 'all', true, true),
  };
}
rmSync(dir, { recursive: true, force: true });
rmSync(stream.file, { force: true });

const rows = speedRows({ replay, run, load, bytes });
printTable(`bench:speed (issue 12's bar; baselines measured in the same run)`, SPEED_HEADERS, rows);

if (values.write) {
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  const args = process.argv.slice(2).join(' ');
  writeResultsSection({
    name: 'speed',
    title: 'Speed and scale-out bar, issue 12',
    command: `npm run bench:speed -- ${args}`,
    setup: `commit ${commit} · load average ${loadAtStart} at the start`,
    body: [
      `Stream: ${streamNote}. Replay and run: ${values.rounds} rounds, alternated (baseline, then probewatch, in fresh processes, fresh consumer groups and Redis key prefixes), medians; ` +
        'replay events/s from the CLI\'s own timing (start-up left out); run events/s from the group join to the last message counted (raw) or committed (probewatch). ' +
        `Offered load: ${values['load-seconds']} s at each rate, events stamped with the wall clock when sent; probewatch's latency is the time its RiskScore was read from the risk topic minus the event ts it carries ` +
        '(RiskScores as the default config publishes them: level changes and every 100th event of a key), the raw consumer\'s the time it read the event minus its ts; both with `run`\'s fetch settings (maxWaitTimeInMs 1000). ' +
        `Per-key bytes: growth of V8 heap and array buffers after forced GCs in a child process with --expose-gc, divided by the keys, after an hour of warm-up traffic (benchmarks/utils/keyTraffic.ts); active keys: the growth from ${values['active-keys']} to ${values['more-active-keys']} keys per key added, and apart what the process grew whatever the keys.`,
      '',
      markdownTable(SPEED_HEADERS, rows),
    ].join('\n'),
  });
  log('wrote the "speed" section of benchmarks/RESULTS.md');
}
