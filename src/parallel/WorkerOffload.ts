import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { DETECTORS } from '../../detectors/index.ts';
import { eventTimeOrder } from '../../detectors/shared/batch.ts';
import { entityName } from '../../detectors/shared/entityName.ts';
import type { Detector, DetectorOutput, KeyGroup } from '../../detectors/types.ts';
import type { ModelReferenceState } from '../baselines/ModelReferenceState.ts';
import type { KernelName } from '../compute/kernelChoice.ts';
import type { Config } from '../config/configSchema.ts';
import type { InferenceEvent } from '../contract.ts';
import type { DetectorOffload, OffloadPart } from '../pipeline/DetectionPipeline.ts';
import type { DetectorWorkerData } from './detectorWorker.ts';
import { encodeEvents } from './eventColumns.ts';
import { MAX_WORKERS, OFFLOADED, type Offloading, planOffload, shardOf } from './offloadPlan.ts';
import type { BatchReply, BatchRequest, ExplainReply, ExplainRequest, ReferenceRows, WireOutput } from './protocol.ts';
import { RemoteDetector, type RemoteOutputs, type RemoteState } from './RemoteDetector.ts';
import { SyncChannel } from './syncChannel.ts';
import { bundledWorkerEntry, type WorkerEntry, workerHeapOptions } from './workerBundle.ts';
import { forcesTensorFlow } from './workerKernels.ts';



interface Lane {
  worker: Worker;
  channel: SyncChannel;
}

/**
 * Runs the per-key detectors of `OFFLOADED` on worker threads for one
 * process's pipeline (`replay --workers N`), with output byte-identical to
 * one thread:
 *
 * - Before the detectors of a batch part run, the part's keys and answered
 *   events go to every worker, with the model references that changed (frozen
 *   within the part: the pipeline feeds them only after its detectors ran).
 *   Sharded detectors run on each worker's share of the keys, whole ones on
 *   the one worker that owns them (their per-key state and their `model:`
 *   baselines), in the order one thread would.
 * - Meanwhile the main thread runs the detectors it keeps (volume,
 *   aggregates) and `whileWaiting` (replay decodes its next batch's lines);
 *   the stand-ins (`RemoteDetector`) then wait for the workers'
 *   outputs, and the pipeline goes on as with one thread: references' feed,
 *   peer calibration, fusion and ladder in its own order.
 * - Evidence for an event other than a key's last in the batch (a level
 *   changing mid-batch, a periodic RiskScore) is asked of the worker that
 *   holds the output, synchronously, for all its detectors at once.
 * - Workers start from a bundle of their sources (`bundledWorkerEntry`), and
 *   a batch part's events go to them as columns in shared memory.
 */
export class WorkerOffload implements DetectorOffload, RemoteOutputs {
  private generation = 0;
  /** Keys of the part in flight and, per detector, which worker's output holds each key's. */
  private keys: string[] = [];
  private from = new Map<string, Int32Array>();
  private results = new Map<string, (WireOutput | null)[] | { error: string }>();
  private pending = false;
  /** Evidence the workers gave for the part in flight, by worker, key index and event. */
  private readonly explained = new Map<string, ExplainReply>();
  /** Per model entity, the record the main thread held when last seen: a different one was created afresh. */
  private readonly entityRecords = new Map<string, Record<string, unknown>>();
  /** What the workers were last sent of each model's reference. */
  private readonly sentReferences = new Map<string, ReferenceRows | null>();
  private readonly owners = new Map<string, number>();
  private readonly sharded = new Set<string>();
  /** Whether a worker owns a detector whole (each of those keeps per-model baselines in `model:` entities). */
  private readonly ownsModels: boolean;
  /** Work for this thread before it blocks on the workers' replies (replay decodes its input ahead); it must not touch the pipeline. */
  whileWaiting?: () => void;

  private constructor(
    private readonly lanes: Lane[],
    private readonly offloaded: readonly string[],
    assignment: ReturnType<typeof planOffload>,
    /** Per worker, where each kernel runs (`js` or the TensorFlow.js backend), as the worker reported when ready. */
    readonly kernels: readonly Readonly<Record<KernelName, string>>[],
  ) {
    this.ownsModels = assignment.some((a) => a.detectors.some((d) => d.mode === 'whole'));
    assignment.forEach((a, w) => {
      for (const d of a.detectors) {
        if (d.mode === 'sharded') this.sharded.add(d.name);
        else this.owners.set(d.name, w);
      }
    });
  }

  /** Starts `workers` worker threads for the detectors `config` enables; `offloaded` says which and how (tests vary it). */
  static async start(config: Readonly<Config>, workers: number, offloaded: Readonly<Record<string, Offloading>> = OFFLOADED): Promise<WorkerOffload> {
    if (!Number.isSafeInteger(workers) || workers < 1 || workers > MAX_WORKERS) throw new RangeError(`workers must be an integer from 1 to ${MAX_WORKERS}, got ${workers}`);
    const enabled = enabledDetectors(config).map((d) => d.name);
    const assignment = planOffload(enabled, workers, offloaded);
    const entry = await workerEntry(config);
    const heap = workerHeapOptions(entry.execArgv ?? process.execArgv);
    const lanes: Lane[] = [];
    let kernels: Record<KernelName, string>[];
    try {
      for (let w = 0; w < workers; w++) {
        const channel = new SyncChannel();
        const workerData: DetectorWorkerData = { config, detectors: assignment[w].detectors, index: w, workers, port: channel.workerPort, signal: channel.signal };
        const worker = new Worker(entry.url, { workerData, transferList: [channel.workerPort], ...heap });
        channel.attach(worker);
        lanes.push({ worker, channel });
      }
      kernels = await Promise.all(lanes.map((lane) => ready(lane)));
    } catch (err) {
      await Promise.all(lanes.map((l) => l.worker.terminate()));
      throw err;
    }
    return new WorkerOffload(lanes, enabled.filter((n) => n in offloaded), assignment, kernels);
  }

  /** The detectors for the pipeline: the registry's enabled ones, in its order, the offloaded ones as stand-ins. */
  detectors(config: Readonly<Config>): Detector[] {
    return enabledDetectors(config).map((d) => {
      if (!this.offloaded.includes(d.name)) return d;
      if (d.kind === 'rate') throw new Error(`detector ${d.name} is a rate detector: it sees every call, and only behavioural detectors are offloaded`);
      return new RemoteDetector(d, this) as Detector;
    });
  }

  runsElsewhere(detector: Detector): boolean {
    return detector instanceof RemoteDetector;
  }

  nextGeneration(): number {
    return ++this.generation;
  }

  /** Sends a batch part to the workers (pipeline hook, before the detectors run). */
  begin(part: OffloadPart): void {
    this.drain();
    const idx: number[] = [];
    part.answered.forEach((evs, k) => {
      if (evs.length > 0) idx.push(k);
    });
    this.keys = idx.map((k) => part.keys[k]);
    if (idx.length === 0) return;
    const gens: Record<string, Float64Array> = {};
    for (const name of this.offloaded) {
      const g = (gens[name] = new Float64Array(idx.length));
      idx.forEach((k, j) => {
        const s = part.states[k].detectors;
        // As the pipeline would on its own a moment later: a key without this detector's state gets a fresh one.
        if (!(name in s)) s[name] = { worker: this.nextGeneration() } satisfies RemoteState;
        g[j] = (s[name] as RemoteState).worker;
      });
    }
    const events = idx.map((k) => part.answered[k] as InferenceEvent[]);
    const groups = events.map((evs, j) => ({ key: this.keys[j], events: evs, state: null }));
    const freshEntities: string[] = [];
    const references: Record<string, ReferenceRows | null> = {};
    const records = new Map<string, Record<string, unknown>>();
    // The lookups of model entities the whole detectors make on one thread (each model once per batch, in order of
    // first appearance in event time), so the entities' last-seen times and least-recently-used order are the same.
    for (const { e } of eventTimeOrder(groups)) {
      if (!records.has(e.model_id)) records.set(e.model_id, this.ownsModels ? part.aggregate(entityName('model:', e.model_id)) : {});
    }
    for (const [model, record] of records) {
      const entity = entityName('model:', model);
      if (this.ownsModels && this.entityRecords.get(entity) !== record) {
        if (this.entityRecords.has(entity)) freshEntities.push(entity);
        this.entityRecords.set(entity, record);
      }
      const rows = referenceRows(part.reference(model));
      const sent = this.sentReferences.get(model);
      if (sent === undefined || !sameRows(sent, rows)) {
        references[model] = rows;
        this.sentReferences.set(model, rows);
      }
    }
    const request: BatchRequest = { type: 'batch', keys: this.keys, events: encodeEvents(events), gens, references, freshEntities };
    for (const lane of this.lanes) lane.channel.send(request);
    this.pending = true;
  }

  outputsOf(name: string, groups: readonly KeyGroup<unknown>[]): DetectorOutput[] {
    this.drain();
    if (groups.length !== this.keys.length || groups.some((g, j) => g.key !== this.keys[j])) {
      throw new Error(`offloaded detector ${name}: the pipeline's keys are not those sent to the workers`);
    }
    const result = this.results.get(name);
    if (!result) throw new Error(`offloaded detector ${name}: no worker ran it`);
    if (!Array.isArray(result)) throw new Error(`${name} failed in a detector worker: ${result.error}`);
    const from = this.from.get(name)!;
    return result.map((wire, j) => {
      if (!wire) throw new Error(`offloaded detector ${name}: no output for key ${this.keys[j]}`);
      const out: DetectorOutput = { scores: wire.scores, evidence: wire.evidence };
      if (wire.signature) out.signature = wire.signature;
      if (wire.keepOut) out.keepOut = wire.keepOut;
      if (wire.explains) {
        const last = wire.scores.length - 1;
        out.explain = (i) => (i === last && wire.lastEvidence ? wire.lastEvidence : this.explain(from[j], name, j, i));
      }
      return out;
    });
  }

  async close(): Promise<void> {
    this.pending = false;
    for (const lane of this.lanes) lane.channel.close();
    await Promise.all(this.lanes.map((l) => l.worker.terminate()));
  }

  /** Takes the workers' replies to the part in flight. */
  private drain(): void {
    if (!this.pending) return;
    this.pending = false;
    this.results.clear();
    this.from.clear();
    this.explained.clear();
    this.whileWaiting?.();
    this.lanes.forEach((lane, w) => {
      const reply = lane.channel.wait<BatchReply>();
      for (const [name, outputs] of Object.entries(reply)) {
        if (!Array.isArray(outputs)) {
          this.results.set(name, outputs);
          continue;
        }
        if (!this.sharded.has(name)) {
          this.results.set(name, outputs);
          this.from.set(name, new Int32Array(outputs.length).fill(w));
          continue;
        }
        let merged = this.results.get(name);
        if (!merged || !Array.isArray(merged)) {
          if (merged) continue; // another shard failed: the detector failed
          this.results.set(name, (merged = new Array(outputs.length).fill(null)));
          this.from.set(name, new Int32Array(outputs.length).fill(-1));
        }
        const from = this.from.get(name)!;
        outputs.forEach((o, j) => {
          if (o && shardOf(this.keys[j], this.lanes.length) === w) {
            merged[j] = o;
            from[j] = w;
          }
        });
      }
    });
  }

  /** A detector's evidence for key `k` after event `i`, from the worker that holds it (all its detectors' asked at once). */
  private explain(w: number, detector: string, k: number, i: number): string[] {
    const asked = `${w} ${k} ${i}`;
    let reply = this.explained.get(asked);
    if (!reply) {
      const channel = this.lanes[w].channel;
      channel.send({ type: 'explain', k, i } satisfies ExplainRequest);
      this.explained.set(asked, (reply = channel.wait<ExplainReply>()));
    }
    const answer = reply[detector];
    if (!answer) throw new Error(`detector worker: no output of ${detector} for key #${k} in the last batch`);
    if ('error' in answer) throw new Error(answer.error);
    return answer.evidence;
  }
}

const WORKER = new URL('./detectorWorker.ts', import.meta.url);
/** The worker's sources loaded through tsx, as bin/probewatch loads the main thread's. */
const WORKER_BOOT = new URL('./detectorWorkerBoot.mjs', import.meta.url);

/** A worker starts from a bundle of its sources, or from the sources when its config makes it load TensorFlow.js (which the bundle leaves out). */
function workerEntry(config: Readonly<Config>): Promise<WorkerEntry> {
  if (forcesTensorFlow(config.compute)) return Promise.resolve({ url: WORKER_BOOT, bundled: false });
  return bundledWorkerEntry(WORKER, WORKER_BOOT);
}

function enabledDetectors(config: Readonly<Config>): Detector[] {
  const detectorConfig = config.detectors as Record<string, { enabled?: boolean }>;
  return DETECTORS.filter((d) => detectorConfig[d.name]?.enabled !== false).map((d) => d.create(detectorConfig[d.name]) as Detector);
}

function referenceRows(s: ModelReferenceState | null): ReferenceRows | null {
  return s ? { dim: s.dim, width: s.width, n: s.n, samples: s.samples, rows: s.rows } : null;
}

function sameRows(a: ReferenceRows | null, b: ReferenceRows | null): boolean {
  if (a === null || b === null) return a === b;
  return a.dim === b.dim && a.width === b.width && a.n === b.n && a.samples === b.samples && a.rows === b.rows;
}

/**
 * Waits for a worker's start-up (its compute backend loaded and its kernels routed), failing with its error if
 * it does not start; the kernel routes it reports.
 */
async function ready(lane: Lane): Promise<Record<KernelName, string>> {
  const started = once(lane.worker, 'message').then(([msg]) => (msg as { kernels: Record<KernelName, string> }).kernels);
  const failed = once(lane.worker, 'error').then(([err]): never => {
    throw err;
  });
  return Promise.race([started, failed]);
}
