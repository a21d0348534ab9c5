/**
 * `npm run bench:state`: bytes per key of the whole KeyState (every
 * registered detector's state, the ladder, the dedup ring, last scores and
 * evidence) at several history lengths, as JSON (what a snapshot costs) and
 * as V8 heap (what memory costs), next to the baseline of a KeyState that
 * runs only the volume detector, measured in the same run. Prints a table
 * and writes its section of benchmarks/RESULTS.md.
 *
 * Traffic: the synthetic deployment of the detector tests
 * (test/detectors/helpers/world.ts: Gaussian-mixture records, a softmax
 * model, the gateway's 16-wide random projection), half of the keys natural,
 * a quarter running Lowd & Meek line searches, a quarter spreading queries
 * over the input box — the patterns that fill the detectors' state most.
 */
import { cpus, totalmem } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DETECTORS } from '../detectors/index.ts';
import { createCompute } from '../src/compute/createCompute.ts';
import { type Config, configSchema } from '../src/config/configSchema.ts';
import type { InferenceEvent } from '../src/contract.ts';
import { DetectionPipeline } from '../src/pipeline/DetectionPipeline.ts';
import type { KeyState } from '../src/state/KeyStateStore.ts';
import { keyTraffic } from './utils/keyTraffic.ts';
import { replaceResultsBlock } from './utils/results.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** History lengths (events per key) and how many keys are measured at each. */
const PLAN = [
  { history: 10, keys: 400 },
  { history: 100, keys: 200 },
  { history: 1_000, keys: 40 },
  { history: 10_000, keys: 8 },
];
const BATCH = 2_048;

/** Events for `keys` keys of `history` events each, warm-up first. */
function traffic(history: number, keys: number): { events: InferenceEvent[]; measured: string[] } {
  const { warm, events, measured } = keyTraffic(history, keys);
  return { events: [...warm, ...events].sort((a, b) => a.ts - b.ts), measured };
}

interface Measure {
  jsonMean: number;
  jsonMax: number;
  heapPerKey: number;
  byDetector: Record<string, number>;
  aggregateEntities: number;
  aggregateJsonMean: number;
  eventsPerSecond: number;
}

async function measure(config: Config, events: InferenceEvent[], measured: string[], detectorNames: string[]): Promise<Measure> {
  const compute = await createCompute('cpu');
  const detectors = DETECTORS.filter((d) => detectorNames.includes(d.name)).map((d) => d.create((config.detectors as Record<string, unknown>)[d.name]));
  const pipeline = new DetectionPipeline(config, { compute, detectors });
  const started = performance.now();
  for (let i = 0; i < events.length; i += BATCH) pipeline.processBatch(events.slice(i, i + BATCH));
  const seconds = (performance.now() - started) / 1000;
  const states = measured.map((k) => pipeline.store.peek(k)).filter((s): s is KeyState => s !== undefined);
  const json = states.map((s) => JSON.stringify(s).length);
  const byDetector: Record<string, number> = {};
  for (const name of detectorNames) byDetector[name] = mean(states.map((s) => JSON.stringify(s.detectors[name] ?? null).length));
  // Heap: a second copy of the measured states (as a restore from snapshots would build) and nothing else.
  const texts = states.map((s) => JSON.stringify(s));
  gc();
  const before = process.memoryUsage().heapUsed;
  const copies = texts.map((t) => JSON.parse(t) as KeyState);
  gc();
  const after = process.memoryUsage().heapUsed;
  if (copies.length !== states.length) throw new Error('lost a copy');
  const entities = [...pipeline.store.aggregates.values()];
  return {
    jsonMean: mean(json),
    jsonMax: Math.max(...json),
    heapPerKey: (after - before) / states.length,
    byDetector,
    aggregateEntities: entities.length,
    aggregateJsonMean: mean(entities.map((a) => JSON.stringify(a).length)),
    eventsPerSecond: events.length / seconds,
  };
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} kB`;

async function main(): Promise<void> {
  const config = configSchema.parse({});
  const all = DETECTORS.map((d) => d.name);
  const rows: string[][] = [];
  const detail: string[] = [];
  for (const { history, keys } of PLAN) {
    const { events, measured } = traffic(history, keys);
    const base = await measure(config, events, measured, ['volume']);
    const full = await measure(config, events, measured, all);
    rows.push([
      String(history),
      String(measured.length),
      kb(full.jsonMean),
      kb(full.jsonMax),
      kb(full.heapPerKey),
      kb(base.jsonMean),
      kb(base.heapPerKey),
      kb(full.jsonMean - base.jsonMean),
      `${Math.round(full.eventsPerSecond)}`,
    ]);
    detail.push(
      `| ${history} | ${all.map((n) => `${n} ${kb(full.byDetector[n])}`).join(', ')} | ${full.aggregateEntities} entities, ${kb(full.aggregateJsonMean)} each |`,
    );
    process.stderr.write(`history ${history}: ${kb(full.jsonMean)} JSON, ${kb(full.heapPerKey)} heap per key (volume only: ${kb(base.jsonMean)}, ${kb(base.heapPerKey)})\n`);
  }
  const header = [
    'events per key',
    'keys',
    'KeyState JSON mean',
    'JSON max',
    'heap per key',
    'baseline JSON (volume only)',
    'baseline heap',
    'detectors beyond volume (JSON)',
    'events/s (all detectors)',
  ];
  const table = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  const perDetector = ['| events per key | JSON per detector (mean) | aggregate entities (model, tenant, prefix, geo) |', '|---|---|---|', ...detail].join('\n');
  const maxKeys = config.state.maxKeys;
  const last = rows[rows.length - 1];
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, TensorFlow.js cpu backend`;
  const section = [
    '## State bytes per key (`npm run bench:state`)',
    '',
    `Command: \`npm run bench:state\` · machine: ${machine} · date: ${new Date().toISOString()}`,
    '',
    'Whole KeyState of a key (all registered detectors, ladder, dedup ring of recent event ids, last scores and evidence) as JSON (the snapshot) and as V8 heap (a parsed copy, measured with forced GC), against the baseline of a KeyState that runs only the volume detector, same traffic, same run. Half the keys natural, a quarter line searches, a quarter box sweeps; an hour of natural warm-up first.',
    '',
    table,
    '',
    perDetector,
    '',
    `At the default global cap of ${maxKeys.toLocaleString('en-US')} keys, the longest-history row means about ${((parseFloat(last[4]) * 1024 * maxKeys) / 2 ** 30).toFixed(2)} GiB of heap for key state.`,
    '',
  ].join('\n');
  process.stdout.write(`${section}\n`);
  replaceResultsBlock('state', section);
}


await main();
