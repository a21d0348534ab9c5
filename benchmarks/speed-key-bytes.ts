/**
 * bench:speed, per-key bytes: how much V8 heap and how many array-buffer
 * bytes the process holds per key, for idle keys (a few events each) and
 * active keys (1,000 events each), all detectors against the volume
 * detector alone. Each measure runs in a fresh child process with
 * --expose-gc: an hour of warm-up traffic first (so the model references
 * and baselines exist), a forced GC, the measured keys' events through the
 * pipeline in batches as `replay` feeds them, a forced GC; the growth
 * divided by the keys. Everything the keys cost is counted (their state,
 * the aggregates and references they feed), and nothing else: the events
 * are generated after the first reading and dropped before the second.
 * Traffic: benchmarks/utils/keyTraffic.ts (as `bench:state`). Its keys
 * do not end together (scripted ones call every second, natural ones
 * every 20 s or so), so at the second reading those that ended earlier
 * are held packed, as the pipeline holds any quiet key: an "active" key's
 * figure is mostly that of a 1,000-event state packed, and the row says
 * how many were.
 *
 * A few dozen active keys are too few to divide the process's fixed growth
 * among: `perKeyBetween` takes the per-key cost from two key counts and
 * reports the fixed part apart.
 *
 * Primed (`prime`): before the first reading, the same traffic once more
 * under other key names, so that what the process grows once and keeps
 * whatever the keys (compiled code for paths the warm-up never took, the
 * compute backend's scratch buffers, sized to a poll's kernel work) is
 * grown already: what is left is what one more key costs.
 *
 * Live (`live`): packing off (`state.packAfterIdleMs: 0`), so every
 * measured key is live at the second reading: what a key still calling
 * at 1,000 events holds, where the other active rows mostly measure
 * packed states.
 *
 * Quiet (`quiet`): after the measured keys' events, one more call of a
 * warm-up key `state.packAfterIdleMs` and a minute later, so that the
 * measured keys are idle as the pipeline judges it (held packed) when the
 * second reading is taken; primed, the same after the primer, before the
 * first reading (the primer's keys are packed too by then, or their
 * packing would be counted against the measured keys).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DETECTORS } from '../detectors/index.ts';
import { createCompute } from '../src/compute/createCompute.ts';
import { parseConfig } from '../src/config/loadConfig.ts';
import type { InferenceEvent } from '../src/contract.ts';
import { DetectionPipeline } from '../src/pipeline/DetectionPipeline.ts';
import { ROOT } from './utils/broker.ts';
import { type KeyTraffic, keyTraffic } from './utils/keyTraffic.ts';

export interface KeyBytes {
  keys: number;
  history: number;
  /** Per key. */
  heap: number;
  buffers: number;
  /** Measured after a primer of the same traffic under other key names. */
  primed?: boolean;
  /** Measured once the keys were quiet past `state.packAfterIdleMs`. */
  quiet?: boolean;
  /** Measured with packing off (`state.packAfterIdleMs: 0`): every key live at the second reading. */
  live?: boolean;
  /** How many of the keys were held packed at the second reading (quiet or not: a key whose traffic ended earlier is packed by then). */
  packed?: number;
  /**
   * Set when `heap` and `buffers` are the growth per key between two runs of the same traffic with
   * `fewerKeys` and `keys` keys (`perKeyBetween`): what the process grew whatever the keys, in bytes
   * (not per key), measured at `fewerKeys` keys. Such growth (the compute backend's kernel scratch,
   * sized to a batch's work; a model reference's caches; compiled code) divided by a few dozen keys
   * would read as tens of kilobytes per key.
   */
  fixed?: { heap: number; buffers: number; fewerKeys: number };
}

const BATCH = 2_048;

/** Forks this file as a child with --expose-gc and returns what it measured. */
export function measureKeyBytes(history: number, keys: number, detectors: 'all' | 'volume', prime = false, quiet = false, live = false): Promise<KeyBytes> {
  const args = ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--child', '--history', String(history), '--keys', String(keys), '--detectors', detectors, ...(prime ? ['--prime'] : []), ...(quiet ? ['--quiet'] : []), ...(live ? ['--live'] : [])];
  return new Promise((resolve, reject) =>
    execFile(process.execPath, args, { cwd: ROOT, maxBuffer: 1 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as KeyBytes))),
  );
}

/**
 * Generates the traffic and feeds one part of it in batches. A function of
 * its own, so that no reference to the events outlives it (an async frame
 * may keep temporaries alive).
 */
function feed(pipeline: DetectionPipeline, history: number, keys: number, part: 'warm' | 'events' | 'primer' | 'later' | 'later again'): void {
  const traffic = keyTraffic(history, keys);
  const events: InferenceEvent[] =
    part === 'primer' ? traffic.events.map((e) => ({ ...e, api_key: `primer-${e.api_key}`, event_id: `primer-${e.event_id}` }))
    : part === 'later' || part === 'later again' ? [later(traffic, part === 'later' ? 0 : 1)]
    : traffic[part];
  for (let i = 0; i < events.length; i += BATCH) pipeline.processBatch(events.slice(i, i + BATCH));
}

/** A warm-up key's call (the `n`th such) once every measured key has been quiet for `state.packAfterIdleMs` and a minute. */
function later(traffic: KeyTraffic, n: number): InferenceEvent {
  const last = traffic.events.reduce((t, e) => Math.max(t, e.ts), 0);
  const call = traffic.warm[traffic.warm.length - 1];
  return { ...call, event_id: `${call.event_id}-later-${n}`, ts: last + parseConfig({}).state.packAfterIdleMs + 60_000 + n };
}

async function child(history: number, keys: number, detectors: string, prime: boolean, quiet: boolean, live: boolean): Promise<KeyBytes> {
  if (live && quiet) throw new Error('--live and --quiet: a key held live is never packed');
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const collect = async () => {
    await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 3; i++) gc();
  };
  const config = parseConfig({
    detectors: Object.fromEntries(DETECTORS.map((d) => [d.name, { enabled: detectors === 'all' || d.name === detectors }])),
    ...(live ? { state: { packAfterIdleMs: 0 } } : {}),
  });
  const pipeline = new DetectionPipeline(config, { compute: await createCompute() });
  feed(pipeline, history, keys, 'warm');
  if (prime) feed(pipeline, history, keys, 'primer');
  if (prime && quiet) feed(pipeline, history, keys, 'later');
  await collect();
  const before = process.memoryUsage();
  // Generated again (deterministically) after the first reading, so that only what the pipeline keeps of them is counted.
  feed(pipeline, history, keys, 'events');
  if (quiet) feed(pipeline, history, keys, prime ? 'later again' : 'later');
  await collect();
  const after = process.memoryUsage();
  const present = Array.from({ length: keys }, (_, k) => pipeline.store.has(`k${k}`)).filter(Boolean).length;
  if (present !== keys) throw new Error(`only ${present} of the ${keys} measured keys are in memory (state.maxKeys?)`);
  const packed = Array.from({ length: keys }, (_, k) => pipeline.store.isPacked(`k${k}`)).filter(Boolean).length;
  if (quiet && packed !== keys) throw new Error(`only ${packed} of the ${keys} measured keys are held packed after the quiet spell`);
  return { keys, history, heap: (after.heapUsed - before.heapUsed) / keys, buffers: (after.arrayBuffers - before.arrayBuffers) / keys, primed: prime, quiet, live, packed };
}

if (process.argv.includes('--child')) {
  const { values } = parseArgs({ options: { child: { type: 'boolean' }, history: { type: 'string' }, keys: { type: 'string' }, detectors: { type: 'string' }, prime: { type: 'boolean' }, quiet: { type: 'boolean' }, live: { type: 'boolean' } } });
  process.stdout.write(JSON.stringify(await child(Number(values.history), Number(values.keys), values.detectors ?? 'all', values.prime ?? false, values.quiet ?? false, values.live ?? false)));
}
