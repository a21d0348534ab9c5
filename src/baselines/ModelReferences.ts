import { packArray, unpackFloat32 } from '../compute/packedVectors.ts';
import type { InferenceEvent } from '../contract.ts';
import { ipPrefix } from '../state/ipPrefix.ts';
import { type AnswerStatistics, answerStatistics } from './answerStatistics.ts';
import { foldPool } from './foldPool.ts';
import type { KeyFeedState } from './KeyFeedState.ts';
import { ModelReference } from './ModelReference.ts';
import { COL, coordinateOffset, createReferenceState, type ModelReferenceState, nextUniform, recordStride, referenceStateProblem, widthOf } from './ModelReferenceState.ts';
import { referenceHash } from './referenceHash.ts';
import type { ReferenceConfig } from './referenceSchema.ts';

/** Where a model's reference state lives: the record of the model's aggregate entity, under `reference`. */
export type ReferenceHolder = (model: string) => Record<string, unknown>;

/** An epoch's weighted sample, decoded for one batch. */
interface OpenPool {
  data: Float32Array;
  bits: Uint32Array;
  /** Record with the lowest priority (−1: unknown). */
  min: number;
}

/** One key's answered queries of a batch, as offered to the gate. */
export interface FeedGroup {
  readonly key: string;
  readonly events: readonly InferenceEvent[];
  readonly feed: KeyFeedState;
  /** Whether a detector flags the key as of its event `i`. */
  flagged(i: number): boolean;
}

// Column offsets as module constants: read in the sampling loop on every query.
const { margin: MARGIN, entropy: ENTROPY, label: LABEL, key: KEY, network: NETWORK, tenant: TENANT, priority: PRIORITY } = COL;

/** Past this many distinct client addresses the memo of their networks starts over (bounds memory). */
const MAX_REMEMBERED = 65_536;

/**
 * The per-model references, one stage for every detector: a batch (one
 * reference epoch) begins with each model's reference moved to the
 * batch's epoch (folding the finished epoch's sample in), detectors read
 * it through their context, and after they have run the batch's answered
 * queries are offered to the feed gate in event time with what the
 * detectors made of their keys.
 *
 * The sample is weighted (Efraimidis & Spirakis, "Weighted random sampling
 * with a reservoir", IPL 97(5), 2006: priority u^(1/w), here log u / w):
 * a query's weight grows with its key's age, so long-lived keys are
 * preferred. Caps and the fold: `foldPool`.
 */
export class ModelReferences {
  private readonly open = new Map<string, ModelReferenceState>();
  private readonly pools = new Map<ModelReferenceState, OpenPool>();
  private readonly views = new WeakMap<ModelReferenceState, { rows: string; samples: number; view: ModelReference }>();
  /** The members' nearest-member distances from the fold that made them (valid while `rows` is that fold's). */
  private readonly folded = new WeakMap<ModelReferenceState, { rows: string; nearest: Float64Array }>();
  /** The views `get` gave out since the batch began: their remembered answers are dropped at its end. */
  private readonly lent = new Set<ModelReference>();
  private readonly networks = new Map<string, number>();
  private readonly stats: AnswerStatistics = { margin: 0, entropy: 0, label: 0 };

  constructor(
    readonly config: ReferenceConfig,
    private readonly holder: ReferenceHolder,
    /** Told when a restored reference cannot be read (it is replaced by a fresh one). */
    private readonly onInvalid: (model: string, problem: string) => void = () => {},
  ) {}

  /** Starts a batch whose events lie in one reference epoch: each model they name is moved to that epoch. */
  begin(events: readonly InferenceEvent[]): void {
    this.end(); // a batch that failed before its end keeps what it sampled

    for (const e of events) if (!this.open.has(e.model_id)) this.advance(this.state(e.model_id), e.ts);
  }

  /** The model's reference as detectors read it (null before the model's first query). */
  get(model: string): ModelReference | null {
    const s = this.open.get(model) ?? this.existing(model);
    if (!s) return null;
    const hit = this.views.get(s);
    if (hit && hit.rows === s.rows && hit.samples === s.samples) {
      this.lent.add(hit.view);
      return hit.view;
    }
    const known = this.folded.get(s);
    const view = new ModelReference(model, s, this.config, known && known.rows === s.rows ? known.nearest : undefined);
    this.views.set(s, { rows: s.rows, samples: s.samples, view });
    this.lent.add(view);
    return view;
  }

  /** The state behind `get(model)` (null where `get` gives null): what another thread rebuilds the same view from. */
  stateOf(model: string): ModelReferenceState | null {
    return this.open.get(model) ?? this.existing(model);
  }

  /**
   * Offers an answered query (status < 400) to the gate, in event-time order across keys. `flagged`:
   * a detector flags the key as of this query (or it leans a detector's way).
   */
  offer(e: InferenceEvent, feed: KeyFeedState, flagged: boolean): void {
    if (feed.first < 0) feed.first = e.ts;
    feed.n++;
    const c = this.config;
    const g = c.gate;
    let weight = 1;
    if (g.enabled) {
      if (flagged || feed.n <= g.minKeyEvents) return;
      const epoch = Math.floor(e.ts / c.epochMs);
      if (feed.epoch !== epoch) {
        feed.epoch = epoch;
        feed.fed = 0;
      }
      if (feed.fed >= g.perKeyEpochCap) return;
      weight = Math.min(1, Math.max(g.minWeight, (e.ts - feed.first) / g.matureMs));
    }
    const s = this.state(e.model_id);
    const sketch = e.input_sketch;
    const dim = Math.min(c.dim, sketch.length);
    if (dim < 2) return;
    if (s.dim === 0) {
      s.dim = dim;
      s.width = Math.min(Math.max(c.width, dim), sketch.length);
    }
    if (s.dim !== dim) return;
    const width = widthOf(s);
    if (sketch.length < width) return;
    for (let j = 0; j < width; j++) if (!Number.isFinite(sketch[j])) return;
    if (g.enabled) feed.fed++;
    this.insert(s, e, weight);
  }

  /**
   * Offers a batch's answered queries to the gate in event time across keys (ties by key, then by
   * position), so the sample depends only on the stream, never on how it was cut into batches.
   */
  offerBatch(groups: readonly FeedGroup[]): void {
    const rank = groups.map((_, g) => g).sort((a, b) => (groups[a].key < groups[b].key ? -1 : groups[a].key > groups[b].key ? 1 : a - b));
    const rankOf = new Int32Array(groups.length);
    rank.forEach((g, r) => (rankOf[g] = r));
    // The events flattened group by group, in typed arrays: within a group the flat index is the position.
    let total = 0;
    for (const grp of groups) total += grp.events.length;
    const groupOf = new Int32Array(total);
    const indexOf = new Int32Array(total);
    const ts = new Float64Array(total);
    const order = new Uint32Array(total);
    for (let g = 0, f = 0; g < groups.length; g++) {
      const events = groups[g].events;
      for (let i = 0; i < events.length; i++, f++) {
        groupOf[f] = g;
        indexOf[f] = i;
        ts[f] = events[i].ts;
        order[f] = f;
      }
    }
    order.sort((a, b) => ts[a] - ts[b] || rankOf[groupOf[a]] - rankOf[groupOf[b]] || a - b);
    for (let o = 0; o < total; o++) {
      const grp = groups[groupOf[order[o]]];
      const i = indexOf[order[o]];
      const e = grp.events[i];
      if (e.status < 400) this.offer(e, grp.feed, grp.flagged(i));
    }
  }

  /** Ends the batch: packs the samples it changed into their states, and the views forget the batch's answers. */
  end(): void {
    for (const [s, pool] of this.pools) s.pool = packArray(pool.data.subarray(0, s.poolN * recordStride(s)));
    this.pools.clear();
    this.open.clear();
    for (const view of this.lent) view.forgetAnswers();
    this.lent.clear();
  }

  private existing(model: string): ModelReferenceState | null {
    const r = this.holder(model).reference;
    return r !== undefined && referenceStateProblem(r) === null ? (r as ModelReferenceState) : null;
  }

  private state(model: string): ModelReferenceState {
    let s = this.open.get(model);
    if (s) return s;
    const holder = this.holder(model);
    const problem = holder.reference === undefined ? null : referenceStateProblem(holder.reference);
    if (holder.reference === undefined || problem !== null) {
      if (problem !== null) this.onInvalid(model, problem);
      holder.reference = createReferenceState(this.config.seed);
    }
    s = holder.reference as ModelReferenceState;
    this.open.set(model, s);
    return s;
  }

  private pool(s: ModelReferenceState): OpenPool {
    let p = this.pools.get(s);
    if (!p) {
      const data = unpackFloat32(s.pool, this.config.size * recordStride({ dim: Math.max(s.dim, 1), width: s.width }));
      this.pools.set(s, (p = { data, bits: new Uint32Array(data.buffer, data.byteOffset, data.length), min: -1 }));
    }
    return p;
  }

  /** Adds a query to the epoch's weighted sample: kept while the sample has room, else in place of the lowest priority if above it. */
  private insert(s: ModelReferenceState, e: InferenceEvent, weight: number): void {
    const size = this.config.size;
    const stride = recordStride(s);
    const width = widthOf(s);
    const pool = this.pool(s);
    const priority = Math.log(nextUniform(s)) / weight;
    s.poolSeen++;
    let at: number;
    if (s.poolN < size) at = s.poolN++;
    else {
      if (pool.min < 0) pool.min = lowest(pool.data, s.poolN, stride, s.dim);
      if (!(priority > pool.data[pool.min * stride + s.dim + PRIORITY])) return;
      at = pool.min;
      pool.min = -1;
    }
    const o = at * stride;
    for (let j = 0; j < s.dim; j++) pool.data[o + j] = e.input_sketch[j];
    for (let j = s.dim; j < width; j++) pool.data[o + coordinateOffset(s.dim, j)] = e.input_sketch[j];
    const st = answerStatistics(e, this.stats);
    pool.data[o + s.dim + MARGIN] = st.margin;
    pool.data[o + s.dim + ENTROPY] = st.entropy;
    pool.data[o + s.dim + LABEL] = st.label;
    pool.bits[o + s.dim + KEY] = referenceHash(e.api_key);
    pool.bits[o + s.dim + NETWORK] = this.network(e.client_ip);
    pool.bits[o + s.dim + TENANT] = e.tenant ? referenceHash(e.tenant) : 0;
    pool.data[o + s.dim + PRIORITY] = priority;
  }

  private network(ip: string | null): number {
    if (!ip) return 0;
    let h = this.networks.get(ip);
    if (h === undefined) {
      const prefix = ipPrefix(ip);
      h = prefix ? referenceHash(prefix) : 0;
      if (this.networks.size >= MAX_REMEMBERED) this.networks.clear();
      this.networks.set(ip, h);
    }
    return h;
  }

  /** Moves a reference to the epoch of `ts`, folding the finished epoch's sample in. */
  private advance(s: ModelReferenceState, ts: number): void {
    const c = this.config;
    const epoch = Math.floor(ts / c.epochMs);
    if (s.epoch < 0) s.epoch = epoch;
    if (epoch <= s.epoch) return;
    s.epoch = epoch;
    if (s.poolSeen < c.minEpochSamples || s.dim === 0) return; // too thin: keep sampling into the next epoch
    const stride = recordStride(s);
    const members = unpackFloat32(s.rows, s.n * stride);
    const pool = this.pool(s).data;
    const folded = foldPool(s, members, pool, c);
    s.n = folded.n;
    s.rows = packArray(folded.rows.subarray(0, folded.n * stride));
    this.folded.set(s, { rows: s.rows, nearest: folded.nearest });
    s.samples = (1 - c.alpha) * s.samples + s.poolSeen;
    s.poolN = 0;
    s.poolSeen = 0;
    s.pool = '';
    this.pools.delete(s);
  }
}

/** The record with the lowest priority (the first of equals). */
function lowest(data: Float32Array, n: number, stride: number, dim: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (data[i * stride + dim + PRIORITY] < data[best * stride + dim + PRIORITY]) best = i;
  return best;
}
