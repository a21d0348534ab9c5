/**
 * Per-event cost of each registered detector (detectors/index.ts DETECTORS,
 * so every detector shows up without touching this file) and of the whole
 * detection pipeline, on a mixed stream, on every TensorFlow.js backend this
 * machine has; the baseline is the same pipeline with no detectors, run in
 * the same process on the same stream. Also the Compute kernels' time per
 * call at the shapes a poll produces, against the plain-JS reference.
 *
 * `npm run bench:detectors` prints the tables and writes its section of
 * benchmarks/RESULTS.md.
 */
import { DETECTORS } from '../detectors/index.ts';
import type { Detector, DetectorContext, KeyGroup } from '../detectors/types.ts';
import { epochParts } from '../src/baselines/epochParts.ts';
import { createKeyFeedState, type KeyFeedState } from '../src/baselines/KeyFeedState.ts';
import { ModelReferences } from '../src/baselines/ModelReferences.ts';
import { type ReferenceConfig, referenceSchema } from '../src/baselines/referenceSchema.ts';
import type { Compute, MinDistanceJob } from '../src/compute/Compute.ts';
import { BACKEND_PREFERENCE, createCompute } from '../src/compute/createCompute.ts';
import { ReferenceCompute } from '../src/compute/ReferenceCompute.ts';
import { type Config, configSchema } from '../src/config/configSchema.ts';
import type { InferenceEvent } from '../src/contract.ts';
import { mulberry32 } from '../src/gateway/RandomProjection.ts';
import { DetectionPipeline } from '../src/pipeline/DetectionPipeline.ts';
import { VOLUME } from '../test/detectors/helpers/scenario.ts';
import { mixedStream } from './utils/mixedStream.ts';
import { printTable, markdownTable, sig } from './utils/table.ts';
import { writeResultsSection } from './utils/results.ts';
import { median, msPerCall } from './utils/timing.ts';

/** Events per poll, as a consumer batch would deliver them. */
const POLL = 500;
/** Timed repetitions per measurement (median reported), each from fresh state. */
const REPS = 3;

/** Polls grouped by key the way DetectionPipeline hands them to detectors (cut at the model reference's epochs, as it does). */
function polls(events: readonly InferenceEvent[], epochMs: number): InferenceEvent[][][] {
  const out: InferenceEvent[][][] = [];
  const parts: (readonly InferenceEvent[])[] = [];
  for (let s = 0; s < events.length; s += POLL) parts.push(...epochParts(events.slice(s, s + POLL), epochMs));
  for (const part of parts) {
    const byKey = new Map<string, InferenceEvent[]>();
    for (const e of part) {
      let g = byKey.get(e.api_key);
      if (!g) byKey.set(e.api_key, (g = []));
      g.push(e);
    }
    out.push([...byKey.values()]);
  }
  return out;
}

/** A Compute that delegates to another and adds up the time spent in its kernels. */
function timedCompute(inner: Compute): Compute & { ms: number; calls: number } {
  const t = { ms: 0, calls: 0 };
  const time =
    <A extends unknown[], R>(f: (...a: A) => R) =>
    (...a: A): R => {
      const t0 = performance.now();
      try {
        return f.apply(inner, a);
      } finally {
        t.ms += performance.now() - t0;
        t.calls++;
      }
    };
  return Object.assign(t, {
    backend: inner.backend,
    minDistances: time(inner.minDistances),
    rowEntropy: time(inner.rowEntropy),
    jsDivergence: time(inner.jsDivergence),
    topMargin: time(inner.topMargin),
  });
}

interface DetectorCost {
  usPerEvent: number;
  kernelUsPerEvent: number;
  kernelCalls: number;
}

/** The model references as the pipeline builds them, fed with one detector's flags (none: every key unflagged). */
function referenceStage(config: ReferenceConfig) {
  const holders = new Map<string, Record<string, unknown>>();
  const feeds = new Map<string, KeyFeedState>();
  const refs = new ModelReferences(config, (m) => {
    let h = holders.get(m);
    if (!h) holders.set(m, (h = {}));
    return h;
  });
  const feed = (poll: InferenceEvent[][], scores?: ArrayLike<number>[]) => {
    refs.offerBatch(
      poll.map((evs, k) => {
        const key = evs[0].api_key;
        if (!feeds.has(key)) feeds.set(key, createKeyFeedState());
        return { key, events: evs, feed: feeds.get(key)!, flagged: (i: number) => (scores ? scores[k][i] >= config.gate.excludeAboveScore : false) };
      }),
    );
    refs.end();
  };
  return { refs, feed };
}

/** The shared model reference alone over the stream (begin, offer, fold; nobody flagged): µs per event. */
function runReferenceOnce(grouped: InferenceEvent[][][], config: ReferenceConfig, events: number): number {
  const { refs, feed } = referenceStage(config);
  const t0 = performance.now();
  for (const poll of grouped) {
    refs.begin(poll.flat());
    for (const evs of poll) refs.get(evs[0].model_id);
    feed(poll);
  }
  return ((performance.now() - t0) * 1000) / events;
}

/** One detector alone over the stream, fresh state, timing only its processBatch calls (the model reference is built untimed). */
function runDetectorOnce(make: () => Detector, grouped: InferenceEvent[][][], inner: Compute, events: number, reference: ReferenceConfig): DetectorCost {
  const detector = make();
  const compute = timedCompute(inner);
  const states = new Map<string, unknown>();
  const aggregates = new Map<string, unknown>();
  const { refs, feed } = referenceStage(reference);
  const ctx: DetectorContext = {
    compute,
    reference: (model) => refs.get(model),
    aggregate<T>(entity: string, init: () => T): T {
      if (!aggregates.has(entity)) aggregates.set(entity, init());
      return aggregates.get(entity) as T;
    },
  };
  let ms = 0;
  for (const poll of grouped) {
    const groups: KeyGroup<unknown>[] = poll.map((evs) => {
      const key = evs[0].api_key;
      if (!states.has(key)) states.set(key, detector.initState());
      return { key, events: evs, state: states.get(key) };
    });
    refs.begin(poll.flat());
    const t0 = performance.now();
    const out = detector.processBatch(groups, ctx);
    ms += performance.now() - t0;
    feed(poll, out.map((o) => o.scores));
  }
  return { usPerEvent: (ms * 1000) / events, kernelUsPerEvent: (compute.ms * 1000) / events, kernelCalls: compute.calls };
}

function medianCost(runs: DetectorCost[]): DetectorCost {
  return {
    usPerEvent: median(runs.map((r) => r.usPerEvent)),
    kernelUsPerEvent: median(runs.map((r) => r.kernelUsPerEvent)),
    kernelCalls: runs[0].kernelCalls,
  };
}

/** The whole pipeline (decode excluded: events are already objects) over the stream; µs per event. */
function runPipelineOnce(config: Config, compute: Compute, events: readonly InferenceEvent[], detectors?: Detector[]): number {
  const pipeline = new DetectionPipeline(config, { compute, ...(detectors ? { detectors } : {}) });
  const t0 = performance.now();
  for (let s = 0; s < events.length; s += POLL) pipeline.processBatch(events.slice(s, s + POLL));
  return ((performance.now() - t0) * 1000) / events.length;
}

/** Kernel inputs at the shapes one poll of POLL events produces. */
function kernelShapes(): { name: string; run: (c: Compute) => unknown }[] {
  const rand = mulberry32(1);
  const gauss = () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
  const mat = (rows: number, dim: number) => Float32Array.from({ length: rows * dim }, gauss);
  const probs = (rows: number, width: number) => {
    const m = Float32Array.from({ length: rows * width }, () => Math.exp(2 * gauss()));
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < width; j++) s += m[r * width + j];
      for (let j = 0; j < width; j++) m[r * width + j] /= s;
    }
    return m;
  };
  // grid-sweep's shape: one job per distinct query, against its class's growing set (≤ 32 members).
  const perQuery: MinDistanceJob[] = Array.from({ length: 400 }, () => ({ dim: 16, queries: mat(1, 16), refs: mat(32, 16) }));
  // A heavier poll: 200 keys × 5 new queries against 1,000 earlier queries each.
  const heavy: MinDistanceJob[] = Array.from({ length: 200 }, () => ({ dim: 16, queries: mat(5, 16), refs: mat(1_000, 16) }));
  const p5 = probs(POLL, 5);
  const q5 = probs(POLL, 5);
  const p100 = probs(POLL, 100);
  return [
    { name: 'minDistances, 400 jobs × 1 query × 32 refs × 16 dims', run: (c) => c.minDistances(perQuery) },
    { name: 'minDistances, 200 jobs × 5 queries × 1,000 refs × 16 dims', run: (c) => c.minDistances(heavy) },
    { name: `rowEntropy, ${POLL} × 5`, run: (c) => c.rowEntropy(p5, 5) },
    { name: `rowEntropy, ${POLL} × 100`, run: (c) => c.rowEntropy(p100, 100) },
    { name: `jsDivergence, ${POLL} × 5`, run: (c) => c.jsDivergence(p5, q5, 5) },
    { name: `topMargin, ${POLL} × 5`, run: (c) => c.topMargin(p5, 5) },
  ];
}

async function availableBackends(): Promise<Compute[]> {
  const out: Compute[] = [];
  for (const name of BACKEND_PREFERENCE) {
    try {
      out.push(await createCompute(name));
    } catch {
      // not on this machine
    }
  }
  return out;
}

async function main(): Promise<void> {
  const computes = await availableBackends();
  const preferred = await createCompute();
  const backends = computes.map((c) => c.backend);
  const events = mixedStream();
  const config = configSchema.parse({});
  const grouped = polls(events, config.reference.epochMs);
  const keys = new Set(events.map((e) => e.api_key)).size;
  const detectorConfig = config.detectors as Record<string, unknown>;
  process.stdout.write(`detector cost: ${events.length} events, ${keys} keys, polls of ${POLL}, backends ${backends.join(', ')} (default ${preferred.backend})\n`);

  // Per detector, per backend.
  const detRows: (string | number)[][] = [];
  const costs = new Map<string, Map<string, DetectorCost>>();
  for (const def of DETECTORS) {
    const byBackend = new Map<string, DetectorCost>();
    for (const c of computes) {
      const make = () => def.create(detectorConfig[def.name]) as Detector;
      runDetectorOnce(make, grouped.slice(0, 4), c, 4 * POLL, config.reference); // warm-up (JIT, backend first use)
      byBackend.set(c.backend, medianCost(Array.from({ length: REPS }, () => runDetectorOnce(make, grouped, c, events.length, config.reference))));
    }
    costs.set(def.name, byBackend);
  }

  // The whole pipeline, and the baseline with no detectors, per backend.
  const pipeRows: (string | number)[][] = [];
  const pipeline = new Map<string, { all: number; none: number }>();
  for (const c of computes) {
    runPipelineOnce(config, c, events.slice(0, 4 * POLL), []);
    runPipelineOnce(config, c, events.slice(0, 4 * POLL));
    // Alternate the two so that drift in the machine's load hits both alike.
    const none: number[] = [];
    const all: number[] = [];
    for (let r = 0; r < REPS; r++) {
      none.push(runPipelineOnce(config, c, events, []));
      all.push(runPipelineOnce(config, c, events));
    }
    pipeline.set(c.backend, { all: median(all), none: median(none) });
  }
  const base = pipeline.get(preferred.backend)!;
  runReferenceOnce(grouped.slice(0, 4), config.reference, 4 * POLL);
  const referenceUs = median(Array.from({ length: REPS }, () => runReferenceOnce(grouped, config.reference, events.length)));
  for (const def of DETECTORS) {
    const row: (string | number)[] = [def.name];
    for (const b of backends) {
      const k = costs.get(def.name)!.get(b)!;
      row.push(sig(k.usPerEvent), k.kernelCalls ? `${sig(k.kernelUsPerEvent)} (${k.kernelCalls} calls)` : '–');
    }
    row.push(`${sig((100 * costs.get(def.name)!.get(preferred.backend)!.usPerEvent) / base.all, 2)}%`);
    detRows.push(row);
  }
  // The shared model reference is built by the pipeline, once per batch, whatever the detectors (no kernels).
  detRows.push(['(shared model reference: feed gate, sample, fold)', ...backends.flatMap(() => [sig(referenceUs), '–']), `${sig((100 * referenceUs) / base.all, 2)}%`]);
  for (const b of backends) {
    const p = pipeline.get(b)!;
    pipeRows.push([b, sig(p.none), sig(p.all), sig(p.all - p.none), Math.round(1e6 / p.all)]);
  }

  // Kernels per call.
  const shapes = kernelShapes();
  const reference = new ReferenceCompute();
  const kernelRows = shapes.map((s) => [s.name, ...[...computes, reference].map((c) => sig(msPerCall(() => s.run(c), { minMs: 400 })))]);

  const detHeaders = ['detector', ...backends.flatMap((b) => [`µs/event (${b})`, `of which kernels, µs/event (${b})`]), `share of pipeline (${preferred.backend})`];
  const pipeHeaders = ['backend', 'baseline: pipeline, no detectors (µs/event)', 'pipeline, all detectors (µs/event)', 'detectors add (µs/event)', 'events/s, all detectors'];
  const kernelHeaders = ['kernel call (one poll)', ...backends.map((b) => `${b} ms/call`), 'plain-JS reference ms/call'];
  printTable('Per detector (alone, its processBatch calls only):', detHeaders, detRows);
  printTable('Whole pipeline against its no-detector baseline:', pipeHeaders, pipeRows);
  printTable('Compute kernels, per call:', kernelHeaders, kernelRows);

  writeResultsSection({
    name: 'detectors',
    title: 'Per-detector cost',
    command: 'npm run bench:detectors',
    setup: `TensorFlow.js backends ${backends.join(', ')} (default ${preferred.backend})`,
    body: [
      `Mixed stream: ${events.length} events from ${keys} keys (40 natural users over four hours, a one-feature what-if sweep, a heavy user replaying a test set, a heavy scripted user, and lattice-sweep, margin-sampling, line-search, Knockoff-style and uniform-box attacks, ${VOLUME} queries each), in polls of ${POLL} events; default config; medians of ${REPS} runs from fresh state.`,
      '',
      '**Per detector**, run alone over the stream (only its `processBatch` calls are timed; "of which kernels" is the time inside Compute calls):',
      '',
      markdownTable(detHeaders, detRows),
      '**Whole pipeline** (`DetectionPipeline.processBatch`: state, detectors, fusion, ladder) against the baseline measured in the same run, the same pipeline with no detectors:',
      '',
      markdownTable(pipeHeaders, pipeRows),
      `**Compute kernels**, milliseconds per call at the shapes of one poll of ${POLL} events, on each backend and in plain JavaScript (\`ReferenceCompute\`, float64, no TensorFlow.js):`,
      '',
      markdownTable(kernelHeaders, kernelRows),
    ].join('\n'),
  });
  process.stdout.write('\nwrote the "detectors" section of benchmarks/RESULTS.md\n');
}

await main();
