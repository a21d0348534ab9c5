import type { Writable } from 'node:stream';
import { formatRiskScore } from '../codec/ndjson.ts';
import type { Compute } from '../compute/Compute.ts';
import { createKernels } from '../compute/createKernels.ts';
import type { Config } from '../config/configSchema.ts';
import type { InferenceEvent, RiskScore } from '../contract.ts';
import { DetectionPipeline, type PipelineOutput } from '../pipeline/DetectionPipeline.ts';
import { EventGate } from '../pipeline/EventGate.ts';
import type { Offloading } from '../parallel/offloadPlan.ts';
import { WorkerOffload } from '../parallel/WorkerOffload.ts';
import { ReadAhead } from '../sources/ReadAhead.ts';
import { readRecordedChunks } from '../sources/recordedEvents.ts';

export interface ReplayOptions {
  /**
   * Events per batch: the speed depends on it, the scores, levels and line order do not. The evidence sentences of
   * detectors without `explain` (today only the aggregates detector's group views) quote their state at the batch's end, so their wording may.
   */
  batchSize?: number;
  out: Writable;
  err: Writable;
  /** Sees each batch (in the order processed) and what it produced, e.g. to collect per-event scores; the output lines do not depend on it. */
  onBatch?(events: readonly InferenceEvent[], output: PipelineOutput, pipeline: DetectionPipeline): void;
  /** Wall clock, for refusing events from the future (input.maxFutureMs); default Date.now(). */
  now?: number;
  /** The kernels to run on (default: `createKernels(config.compute)`). */
  compute?: Compute;
  /** Worker threads for the per-key detectors (`WorkerOffload`); only the speed depends on it, never the output. Default: none. */
  workers?: number;
  /** With `workers`: which detectors run there and how (default `OFFLOADED`). */
  offloaded?: Readonly<Record<string, Offloading>>;
}

export interface ReplaySummary {
  events: number;
  skipped: number;
  keys: number;
  seconds: number;
}

/**
 * `probewatch replay`: the same detector/fusion/policy code as `run` over a
 * recorded stream, in event time, with no Kafka or Redis. Prints a RiskScore
 * each time a key's level changes and one `final` line per key at the end.
 */
export async function replay(path: string, config: Readonly<Config>, options: ReplayOptions): Promise<ReplaySummary> {
  const started = performance.now();
  // The workers start while this thread loads its own kernels.
  const starting = options.workers ? WorkerOffload.start(config, options.workers, options.offloaded) : undefined;
  const [compute, offload] = await Promise.allSettled([options.compute ?? createKernels(config.compute), starting]);
  try {
    if (compute.status === 'rejected') throw compute.reason;
    if (offload.status === 'rejected') throw offload.reason;
    return await replayWith(path, config, options, started, compute.value, offload.value);
  } finally {
    if (offload.status === 'fulfilled') await offload.value?.close();
  }
}

async function replayWith(path: string, config: Readonly<Config>, options: ReplayOptions, started: number, compute: Compute, offload?: WorkerOffload): Promise<ReplaySummary> {
  // Replay prints level changes and final scores, never the periodic RiskScores: unless a caller reads them (`onBatch`),
  // they are not built (each would take every detector's evidence for an event in mid-batch, a round trip to a worker).
  const pipelineConfig = options.onBatch ? config : { ...config, publish: { ...config.publish, riskEveryEvents: 0 } };
  const pipeline = new DetectionPipeline(pipelineConfig, offload ? { compute, detectors: offload.detectors(config), offload } : { compute });
  const batchSize = options.batchSize ?? 2048;
  let batch: InferenceEvent[] = [];
  let events = 0;
  let skipped = 0;
  let pending = '';
  const flushText = () => {
    if (pending) options.out.write(pending);
    pending = '';
  };
  const run = () => {
    // Event time: a batch is processed in timestamp order (stable for equal times).
    batch.sort((a, b) => a.ts - b.ts);
    const output = pipeline.processBatch(batch);
    options.onBatch?.(batch, output, pipeline);
    // Printed in event time (then key), not in the order the batch's keys were processed, so the lines do not depend on where batches were cut.
    for (const score of output.changes.sort(byTimeThenKey)) pending += formatRiskScore(score) + '\n';
    if (pending.length > 1 << 16) flushText();
    batch = [];
  };
  // Late, far-future and reshaped events are refused as `run` refuses them (the stream is one partition).
  const gate = new EventGate(config.input, pipeline.store);
  const now = options.now ?? Date.now();
  // Records come a chunk at a time and are taken in a plain loop: no promise per record. With workers, the next
  // batch's records are read before a batch runs and decoded while this thread waits for the workers.
  const reader = new ReadAhead(readRecordedChunks(path, process.stdin, config.input));
  if (offload) offload.whileWaiting = () => reader.decodeAhead();
  try {
    for (let chunk = await reader.next(); chunk; chunk = await reader.next()) {
      for (const item of chunk.items()) {
        const error = 'error' in item ? item.error : gate.check(item.event, 'replay', now);
        if (error) {
          skipped++;
          options.err.write(`${path}:${item.position}: skipped (${error.code}${error.reason ? ` ${error.reason}` : ''}): ${error.message}\n`);
          continue;
        }
        if ('error' in item) continue;
        events++;
        batch.push(item.event);
        if (batch.length < batchSize) continue;
        if (offload) await reader.fill(batchSize);
        run();
      }
    }
  } finally {
    await reader.close();
  }
  if (batch.length) run();
  for (const score of pipeline.finalScores()) pending += formatRiskScore(score) + '\n';
  flushText();
  return { events, skipped, keys: pipeline.store.size, seconds: (performance.now() - started) / 1000 };
}

function byTimeThenKey(a: RiskScore, b: RiskScore): number {
  return a.ts - b.ts || (a.api_key < b.api_key ? -1 : a.api_key > b.api_key ? 1 : 0);
}
