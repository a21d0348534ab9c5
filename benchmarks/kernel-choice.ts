/**
 * The per-kernel choice between plain JavaScript and TensorFlow.js
 * (src/compute/createKernels.ts): the start-up measurement itself, run
 * longer, at the shapes of a poll (500 events, as `run` gets them; 2,048,
 * replay's batch; a 100-class model), on every backend this machine has;
 * what `auto` picks; what the start-up measurement costs; and the whole
 * pipeline on the mixed stream with every kernel on the default
 * TensorFlow.js backend (before) against the chosen kernels (after), in the
 * same run, with the outputs compared.
 *
 * `npm run bench:kernels` prints the tables and writes its section of
 * benchmarks/RESULTS.md.
 */
import type { Compute } from '../src/compute/Compute.ts';
import { BACKEND_PREFERENCE, createCompute } from '../src/compute/createCompute.ts';
import { createKernels } from '../src/compute/createKernels.ts';
import { chooseKernels, computeSchema, KERNELS, measureKernels, pollWorkload } from '../src/compute/kernelChoice.ts';
import { ReferenceCompute } from '../src/compute/ReferenceCompute.ts';
import { configSchema } from '../src/config/configSchema.ts';
import type { InferenceEvent } from '../src/contract.ts';
import { DetectionPipeline } from '../src/pipeline/DetectionPipeline.ts';
import { mixedStream } from './utils/mixedStream.ts';
import { renderSection, replaceResultsBlock } from './utils/results.ts';
import { markdownTable, printTable, sig } from './utils/table.ts';
import { median } from './utils/timing.ts';

const POLL = 500;
const REPS = 3;

/** The pipeline over the stream in polls of POLL: µs per event, and its output lines. */
function runPipeline(compute: Compute, events: readonly InferenceEvent[]): { us: number; out: string } {
  const pipeline = new DetectionPipeline(configSchema.parse({}), { compute });
  const lines: string[] = [];
  const t0 = performance.now();
  for (let s = 0; s < events.length; s += POLL) for (const c of pipeline.processBatch(events.slice(s, s + POLL)).changes) lines.push(JSON.stringify(c));
  const us = ((performance.now() - t0) * 1000) / events.length;
  for (const f of pipeline.finalScores()) lines.push(JSON.stringify(f));
  return { us, out: lines.join('\n') };
}

async function main(): Promise<void> {
  const js = new ReferenceCompute();
  const backends: Compute[] = [];
  for (const name of BACKEND_PREFERENCE) {
    try {
      backends.push(await createCompute(name));
    } catch {
      // not on this machine
    }
  }
  const auto = computeSchema.parse({}).kernels;
  const shapes = [
    { name: `poll of ${POLL}, 10 classes`, workload: pollWorkload(POLL, 10) },
    { name: 'poll of 2,048, 10 classes', workload: pollWorkload(2048, 10) },
    { name: `poll of ${POLL}, 100 classes`, workload: pollWorkload(POLL, 100) },
  ];
  const kernelRows: (string | number)[][] = [];
  for (const shape of shapes) {
    for (const tf of backends) {
      const t = measureKernels(js, tf, shape.workload, { minRuns: 10, maxRuns: 500, budgetMs: 150 });
      const chosen = chooseKernels(auto, t, tf.backend);
      for (const k of KERNELS) {
        kernelRows.push([shape.name, k, tf.backend, sig(t[k].js), sig(t[k].tfjs), `${sig(t[k].tfjs / t[k].js, 2)}×`, `${chosen[k].backend} (${chosen[k].reason})`]);
      }
    }
  }

  // What the start-up measurement costs (backend already loaded; the default budget).
  const startup: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const t0 = performance.now();
    await createKernels(computeSchema.parse({}));
    startup.push(performance.now() - t0);
  }

  // The pipeline, before (every kernel on the default backend) and after (the chosen kernels), alternated.
  const events = mixedStream();
  const before = await createCompute();
  const after = await createKernels(computeSchema.parse({}));
  runPipeline(before, events.slice(0, 4 * POLL));
  runPipeline(after, events.slice(0, 4 * POLL));
  const b: number[] = [];
  const a: number[] = [];
  let identical = true;
  for (let r = 0; r < REPS; r++) {
    const x = runPipeline(before, events);
    const y = runPipeline(after, events);
    b.push(x.us);
    a.push(y.us);
    identical &&= x.out === y.out;
  }
  const pipeRows = [
    [`before: every kernel on ${before.backend}`, sig(median(b)), Math.round(1e6 / median(b)), '1.0×'],
    [`after: ${KERNELS.map((k) => `${k} ${after.kernels[k].backend}`).join(', ')}`, sig(median(a)), Math.round(1e6 / median(a)), `${sig(median(b) / median(a), 2)}×`],
  ];

  const kernelHeaders = ['shape', 'kernel', 'TensorFlow.js backend', 'plain JS ms/call', 'TensorFlow.js ms/call', 'TensorFlow.js / JS', 'auto picks'];
  const pipeHeaders = ['kernels', 'pipeline, all detectors (µs/event)', 'events/s', 'speed-up'];
  printTable('Kernels at the pipeline\'s shapes (the start-up measurement, run longer):', kernelHeaders, kernelRows);
  printTable(`Whole pipeline on the mixed stream (${events.length} events), outputs identical: ${identical ? 'yes' : 'NO'}:`, pipeHeaders, pipeRows);
  process.stdout.write(`start-up measurement (createKernels, default budget): ${sig(median(startup))} ms\n`);
  const body = [
    'Each kernel timed in plain JavaScript (`ReferenceCompute`, float64) and on each TensorFlow.js backend this machine has, with the start-up measurement\'s code (`measureKernels`, median per call) given a longer budget. `auto` moves only `topMargin` by speed (bit-for-bit equal on every backend); `minDistances`, `rowEntropy` and `jsDivergence` round differently on TensorFlow.js and feed thresholds, so they keep plain JS ("deterministic") unless the config forces them (`compute.kernels.*`).',
    '',
    markdownTable(kernelHeaders, kernelRows),
    `**Whole pipeline** (\`DetectionPipeline.processBatch\`, default config, polls of ${POLL}) on the mixed stream of \`bench:detectors\` (${events.length} events), before and after, alternated, medians of ${REPS}; outputs (level changes and final scores) identical: **${identical ? 'yes' : 'no'}**.`,
    '',
    markdownTable(pipeHeaders, pipeRows),
    `The start-up measurement (\`createKernels\` with the default budget, backend already loaded) takes ${sig(median(startup))} ms.`,
  ].join('\n');
  replaceResultsBlock('kernels', renderSection({ name: 'kernels', title: 'Kernels and neighbour index (issue 12): kernels', command: 'npm run bench:kernels', setup: `TensorFlow.js backends ${backends.map((c) => c.backend).join(', ')}`, body }));
  process.stdout.write('\nwrote the "kernels" section of benchmarks/RESULTS.md\n');
}

await main();
