import type { InferenceEvent } from '../contract.ts';

/**
 * A batch part's events by key, as columns: typed arrays and a table of the
 * strings they repeat. The arrays are views of shared memory, so posting
 * them to every worker copies nothing (a copy of each column per worker
 * cost the main thread more than the workers' own decoding); cloning the
 * event objects would cost about as much as parsing them.
 */
export interface EventColumns {
  /** Events of key group `g` are rows `groupStart[g]` … `groupStart[g + 1] − 1`. */
  groupStart: Int32Array;
  ts: Float64Array;
  status: Int32Array;
  label: Int32Array;
  latency: Float64Array;
  /** 32 bytes per row. */
  hash: Uint8Array;
  /** Row `r`'s sketch is `sketch[sketchStart[r] … sketchStart[r + 1])`; likewise its probabilities. */
  sketchStart: Int32Array;
  sketch: Float64Array;
  probsStart: Int32Array;
  probs: Float64Array;
  /** The model's own answer beside an altered one: its label (`NO_MODEL_LABEL` when the event has none) and probabilities. */
  modelLabel: Int32Array;
  modelProbsStart: Int32Array;
  modelProbs: Float64Array;
  eventId: string[];
  /** Indexes into `strings`; −1 for null. */
  tenant: Int32Array;
  clientIp: Int32Array;
  model: Int32Array;
  enforcement: Int32Array;
  strings: string[];
}

const HASH_BYTES = 32;
/** `modelLabel` of an event that carries no model answer (labels are ≥ −1). */
const NO_MODEL_LABEL = -2;

type ColumnType<T> = { new (buffer: SharedArrayBuffer): T; readonly BYTES_PER_ELEMENT: number };

/** A zeroed column of `n` elements in shared memory (written once here, then only read). */
function shared<T>(Column: ColumnType<T>, n: number): T {
  return new Column(new SharedArrayBuffer(n * Column.BYTES_PER_ELEMENT));
}

export function encodeEvents(groups: readonly (readonly InferenceEvent[])[]): EventColumns {
  let n = 0;
  let sketchLen = 0;
  let probsLen = 0;
  let modelProbsLen = 0;
  for (const evs of groups) {
    n += evs.length;
    for (const e of evs) {
      sketchLen += e.input_sketch.length;
      probsLen += e.output_probs.length;
      modelProbsLen += e.model_probs?.length ?? 0;
    }
  }
  const c: EventColumns = {
    groupStart: shared(Int32Array, groups.length + 1),
    ts: shared(Float64Array, n),
    status: shared(Int32Array, n),
    label: shared(Int32Array, n),
    latency: shared(Float64Array, n),
    hash: shared(Uint8Array, n * HASH_BYTES),
    sketchStart: shared(Int32Array, n + 1),
    sketch: shared(Float64Array, sketchLen),
    probsStart: shared(Int32Array, n + 1),
    probs: shared(Float64Array, probsLen),
    modelLabel: shared(Int32Array, n),
    modelProbsStart: shared(Int32Array, n + 1),
    modelProbs: shared(Float64Array, modelProbsLen),
    eventId: new Array<string>(n),
    tenant: shared(Int32Array, n),
    clientIp: shared(Int32Array, n),
    model: shared(Int32Array, n),
    enforcement: shared(Int32Array, n),
    strings: [],
  };
  const index = new Map<string, number>();
  const intern = (s: string | null): number => {
    if (s === null) return -1;
    let i = index.get(s);
    if (i === undefined) {
      index.set(s, (i = c.strings.length));
      c.strings.push(s);
    }
    return i;
  };
  let r = 0;
  let sk = 0;
  let pr = 0;
  let mp = 0;
  groups.forEach((evs, g) => {
    c.groupStart[g] = r;
    for (const e of evs) {
      c.ts[r] = e.ts;
      c.status[r] = e.status;
      c.label[r] = e.output_label;
      c.latency[r] = e.latency_ms;
      c.hash.set(e.input_hash.subarray(0, HASH_BYTES), r * HASH_BYTES);
      c.sketchStart[r] = sk;
      for (const v of e.input_sketch) c.sketch[sk++] = v;
      c.probsStart[r] = pr;
      for (const v of e.output_probs) c.probs[pr++] = v;
      c.modelLabel[r] = e.model_label ?? NO_MODEL_LABEL;
      c.modelProbsStart[r] = mp;
      if (e.model_probs) for (const v of e.model_probs) c.modelProbs[mp++] = v;
      c.eventId[r] = e.event_id;
      c.tenant[r] = intern(e.tenant);
      c.clientIp[r] = intern(e.client_ip);
      c.model[r] = intern(e.model_id);
      c.enforcement[r] = intern(e.enforcement);
      r++;
    }
  });
  c.groupStart[groups.length] = r;
  c.sketchStart[n] = sk;
  c.probsStart[n] = pr;
  c.modelProbsStart[n] = mp;
  return c;
}

/** The events back, one array per key group (`keys[g]` is group g's `api_key`). */
export function decodeEvents(c: EventColumns, keys: readonly string[]): InferenceEvent[][] {
  const str = (i: number) => (i < 0 ? null : c.strings[i]);
  return keys.map((api_key, g) => {
    const evs: InferenceEvent[] = [];
    for (let r = c.groupStart[g]; r < c.groupStart[g + 1]; r++) {
      const e: InferenceEvent = {
        event_id: c.eventId[r],
        ts: c.ts[r],
        api_key,
        tenant: str(c.tenant[r]),
        client_ip: str(c.clientIp[r]),
        model_id: c.strings[c.model[r]],
        input_hash: Buffer.from(c.hash.buffer, c.hash.byteOffset + r * HASH_BYTES, HASH_BYTES),
        input_sketch: Array.from(c.sketch.subarray(c.sketchStart[r], c.sketchStart[r + 1])),
        output_label: c.label[r],
        output_probs: Array.from(c.probs.subarray(c.probsStart[r], c.probsStart[r + 1])),
        status: c.status[r],
        latency_ms: c.latency[r],
        enforcement: str(c.enforcement[r]),
      };
      if (c.modelLabel[r] !== NO_MODEL_LABEL) {
        e.model_label = c.modelLabel[r];
        e.model_probs = Array.from(c.modelProbs.subarray(c.modelProbsStart[r], c.modelProbsStart[r + 1]));
      }
      evs.push(e);
    }
    return evs;
  });
}
