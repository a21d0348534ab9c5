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
 * Traffic: benchmarks/utils/keyTraffic.ts (as `bench:state`).
 *
 * Primed (`prime`): before the first reading, the same traffic once more
 * under other key names, so that what the process grows once and keeps
 * whatever the keys (compiled code for paths the warm-up never took, the
 * compute backend's scratch buffers, sized to a poll's kernel work) is
 * grown already: what is left is what one more key costs.
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
import { keyTraffic } from './utils/keyTraffic.ts';

export interface KeyBytes {
  keys: number;
  history: number;
  /** Per key. */
  heap: number;
  buffers: number;
  /** Measured after a primer of the same traffic under other key names. */
  primed?: boolean;
}

const BATCH = 2_048;

/** Forks this file as a child with --expose-gc and returns what it measured. */
export function measureKeyBytes(history: number, keys: number, detectors: 'all' | 'volume', prime = false): Promise<KeyBytes> {
  const args = ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--child', '--history', String(history), '--keys', String(keys), '--detectors', detectors, ...(prime ? ['--prime'] : [])];
  return new Promise((resolve, reject) =>
    execFile(process.execPath, args, { cwd: ROOT, maxBuffer: 1 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as KeyBytes))),
  );
}

/**
 * Generates the traffic and feeds one part of it in batches. A function of
 * its own, so that no reference to the events outlives it (an async frame
 * may keep temporaries alive).
 */
function feed(pipeline: DetectionPipeline, history: number, keys: number, part: 'warm' | 'events' | 'primer'): void {
  const traffic = keyTraffic(history, keys);
  const events: InferenceEvent[] = part === 'primer' ? traffic.events.map((e) => ({ ...e, api_key: `primer-${e.api_key}`, event_id: `primer-${e.event_id}` })) : traffic[part];
  for (let i = 0; i < events.length; i += BATCH) pipeline.processBatch(events.slice(i, i + BATCH));
}

async function child(history: number, keys: number, detectors: string, prime: boolean): Promise<KeyBytes> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const collect = async () => {
    await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 3; i++) gc();
  };
  const config = parseConfig({ detectors: Object.fromEntries(DETECTORS.map((d) => [d.name, { enabled: detectors === 'all' || d.name === detectors }])) });
  const pipeline = new DetectionPipeline(config, { compute: await createCompute() });
  feed(pipeline, history, keys, 'warm');
  if (prime) feed(pipeline, history, keys, 'primer');
  await collect();
  const before = process.memoryUsage();
  // Generated again (deterministically) after the first reading, so that only what the pipeline keeps of them is counted.
  feed(pipeline, history, keys, 'events');
  await collect();
  const after = process.memoryUsage();
  const present = Array.from({ length: keys }, (_, k) => pipeline.store.peek(`k${k}`)).filter(Boolean).length;
  if (present !== keys) throw new Error(`only ${present} of the ${keys} measured keys are in memory (state.maxKeys?)`);
  return { keys, history, heap: (after.heapUsed - before.heapUsed) / keys, buffers: (after.arrayBuffers - before.arrayBuffers) / keys, primed: prime };
}

if (process.argv.includes('--child')) {
  const { values } = parseArgs({ options: { child: { type: 'boolean' }, history: { type: 'string' }, keys: { type: 'string' }, detectors: { type: 'string' }, prime: { type: 'boolean' } } });
  process.stdout.write(JSON.stringify(await child(Number(values.history), Number(values.keys), values.detectors ?? 'all', values.prime ?? false)));
}
