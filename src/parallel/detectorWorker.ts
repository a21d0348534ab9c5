import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { DETECTORS } from '../../detectors/index.ts';
import type { Detector, DetectorContext, DetectorOutput, KeyGroup } from '../../detectors/types.ts';
import { forgetEventOrder } from '../../detectors/shared/batch.ts';
import { ModelReference } from '../baselines/ModelReference.ts';
import type { ModelReferenceState } from '../baselines/ModelReferenceState.ts';
import { KERNELS } from '../compute/kernelChoice.ts';
import type { Config } from '../config/configSchema.ts';
import { decodeEvents } from './eventColumns.ts';
import type { OffloadMode } from './offloadPlan.ts';
import { shardOf } from './offloadPlan.ts';
import type { BatchReply, BatchRequest, ExplainReply, ReferenceRows, WireOutput, WorkerRequest } from './protocol.ts';
import { serveRequests } from './syncChannel.ts';
import { workerKernels } from './workerKernels.ts';

/** What the main thread gives a detector worker (`WorkerOffload`). */
export interface DetectorWorkerData {
  config: Config;
  detectors: { name: string; mode: OffloadMode }[];
  index: number;
  workers: number;
  port: MessagePort;
  signal: Int32Array;
}

interface Owned {
  detector: Detector<unknown>;
  mode: OffloadMode;
  /** Per key: the state and the generation of the main thread's key state it belongs to. */
  states: Map<string, { gen: number; state: unknown }>;
  /** Outputs of the last batch by key index, for evidence asked for later. */
  last: (DetectorOutput | undefined)[];
}

const data = workerData as DetectorWorkerData;
const compute = await workerKernels(data.config.compute);
const detectorConfig = data.config.detectors as Record<string, unknown>;
const owned: Owned[] = data.detectors.map(({ name, mode }) => {
  const def = DETECTORS.find((d) => d.name === name);
  if (!def) throw new Error(`detector worker: no detector named ${name}`);
  return { detector: def.create(detectorConfig[name]) as Detector<unknown>, mode, states: new Map(), last: [] };
});
/** Model entities of the detectors this worker owns whole: entity → detector name → state. */
const entities = new Map<string, Record<string, unknown>>();
const references = new Map<string, { rows: ReferenceRows | null; view: ModelReference | null }>();

function reference(model: string): ModelReference | null {
  const r = references.get(model);
  if (!r || !r.rows) return null;
  // Built once per change of the members, as the main thread's ModelReferences does.
  r.view ??= new ModelReference(model, r.rows as unknown as ModelReferenceState, data.config.reference);
  return r.view;
}

function runBatch(req: BatchRequest): BatchReply {
  for (const entity of req.freshEntities) entities.delete(entity);
  for (const [model, rows] of Object.entries(req.references)) references.set(model, { rows, view: null });
  const events = decodeEvents(req.events, req.keys);
  const mine = req.keys.map((key) => shardOf(key, data.workers) === data.index);
  const reply: BatchReply = {};
  for (const o of owned) {
    const name = o.detector.name;
    const gens = req.gens[name];
    const slots: number[] = [];
    const groups: KeyGroup<unknown>[] = [];
    req.keys.forEach((key, k) => {
      if (o.mode === 'sharded' && !mine[k]) return;
      let held = o.states.get(key);
      if (!held || held.gen !== gens[k]) o.states.set(key, (held = { gen: gens[k], state: o.detector.initState() }));
      slots.push(k);
      groups.push({ key, events: events[k], state: held.state });
    });
    const ctx: DetectorContext = {
      compute,
      reference,
      aggregate: <T>(entity: string, init: () => T): T => {
        let a = entities.get(entity);
        if (!a) entities.set(entity, (a = {}));
        if (!(name in a)) a[name] = init();
        return a[name] as T;
      },
    };
    o.last = new Array(req.keys.length);
    try {
      const result = groups.length ? o.detector.processBatch(groups, ctx) : [];
      const out: (WireOutput | null)[] = new Array(req.keys.length).fill(null);
      slots.forEach((k, j) => {
        o.states.get(req.keys[k])!.state = groups[j].state;
        o.last[k] = result[j];
        out[k] = toWire(result[j]);
      });
      reply[name] = out;
    } catch (err) {
      reply[name] = { error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
    }
  }
  // As the main thread's ModelReferences does at a batch's end: a view kept for the next batch forgets this one's answers.
  for (const r of references.values()) r.view?.forgetAnswers();
  forgetEventOrder();
  return reply;
}

function toWire(o: DetectorOutput): WireOutput {
  const wire: WireOutput = { scores: Float64Array.from(o.scores), evidence: o.evidence, explains: o.explain !== undefined };
  // The pipeline always asks for the last event's evidence: sent along, so only mid-batch level changes ask again.
  if (o.explain && o.scores.length > 0) wire.lastEvidence = o.explain(o.scores.length - 1);
  if (o.signature) wire.signature = Float64Array.from(o.signature);
  if (o.keepOut) wire.keepOut = Uint8Array.from(o.keepOut);
  return wire;
}

function explain(k: number, i: number): ExplainReply {
  const reply: ExplainReply = {};
  for (const { detector, last } of owned) {
    const o = last[k];
    if (!o) continue;
    try {
      reply[detector.name] = { evidence: o.explain ? o.explain(i) : o.evidence };
    } catch (err) {
      reply[detector.name] = { error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
    }
  }
  return reply;
}

// A request that throws outside a detector is answered with its error, which the main thread raises.
serveRequests(parentPort!, data.port, data.signal, (req: WorkerRequest): BatchReply | ExplainReply =>
  req.type === 'batch' ? runBatch(req) : explain(req.k, req.i),
);
parentPort!.postMessage({ ready: true, backend: compute.backend, kernels: Object.fromEntries(KERNELS.map((k) => [k, compute.kernels[k].backend])) });
