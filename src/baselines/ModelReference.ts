import { unpackFloat32 } from '../compute/packedVectors.ts';
import { squaredDistance, squaredDistancesTo } from '../compute/squaredDistance.ts';
import { nearestOther } from './foldPool.ts';
import { type MinorDirections, minorDirections, type TailShares } from './minorDirections.ts';
import { addOuterProduct, participationRatio } from '../stats/effectiveDimension.ts';
import { COL, coordinateOffset, type ModelReferenceState, recordStride, widthOf } from './ModelReferenceState.ts';
import { createNeighbourhood, NeighbourIndex, type Neighbourhood } from './NeighbourIndex.ts';
import type { ReferenceConfig } from './referenceSchema.ts';

/** Tail flag of a member without the statistic. */
const UNKNOWN = 255;

/** An answer statistic kept per member. */
export type MemberStatistic = 'margin' | 'entropy';

/** The members' least certain answers (`ModelReference.leastCertain`). */
export interface LeastCertain {
  threshold: number;
  /** Per answered class, the share of its members' answers below `threshold`. */
  byLabel: Map<number, number>;
  /** The share overall (the quantile asked for), for classes the members were never answered. */
  q: number;
}

/** Members' worth of the overall share each class's share is shrunk towards (`leastCertain`). */
const SHRINK = 5;
/** Where an answer counts as "in the tail": below the threshold (margins) or above it (entropies). */
export type TailSide = 'low' | 'high';

/**
 * A model's reference as detectors read it: the members frozen for the
 * current epoch, an exact neighbour index over their sketches, the
 * distribution of their nearest-neighbour distances, and their answers'
 * statistics. Read-only; rebuilt when a fold changes the members.
 */
export class ModelReference {
  /** Sketch coordinates of the members (0 before the first member). */
  readonly dim: number;
  /** Sketch coordinates the reference keeps (`reference.dim`): a prefix of each query's sketch. */
  readonly configDim: number;
  /** Sketch coordinates each member keeps (`dim` or more): what its covariance is taken over. */
  readonly width: number;
  readonly n: number;
  /** Queries offered, decayed like the members. */
  readonly samples: number;
  /** Whether the reference answers questions (enough offered queries and members, a distance scale). */
  readonly ready: boolean;
  private readonly data: Float32Array;
  private readonly stride: number;
  private readonly index: NeighbourIndex;
  /** Each member's key hash (`referenceHash` of the key that fed it). */
  private readonly memberKeys: Uint32Array;
  /** Each member's distance to its nearest other member, ascending. */
  private readonly nearestSorted: Float64Array;
  private readonly flags = new Map<string, Uint8Array>();
  private readonly lastFlags: ({ threshold: number; hit: Uint8Array } | undefined)[] = [undefined, undefined, undefined, undefined];
  /**
   * The last neighbourhood answered per query sketch (the event's array): the detectors that judge an
   * answer by its neighbours ask the same question of the same event, one after another. Kept for one
   * batch (`forgetAnswers`), or until `MAX_ASKED` questions (a cache: dropping it changes no answer).
   */
  private readonly asked = new AskedNeighbourhoods();
  private readonly x: Float64Array;
  private readonly minors = new Map<number, MinorDirections | null>();
  /** `leastCertain`'s answers, by quantile. */
  private readonly leastCertainCache = new Map<number, LeastCertain>();
  /** `stepDimension`'s answers, by width. */
  private readonly stepDims = new Map<number, number>();
  /** `sampleOf`'s members, once asked for. */
  private sample: MemberSample | undefined = undefined;
  /** The sample size `nearestOfSample` was last asked for: a sample is gathered when the same size is asked again. */
  private lastTake = 0;
  /** The gate's caps, as shares of a quantile's tail (null: the gate is off). */
  private readonly tailShares: TailShares | null;

  constructor(
    readonly model: string,
    state: ModelReferenceState,
    config: ReferenceConfig,
    /** Each member's squared distance to its nearest other member, when the fold that made them knows it. */
    nearestSq?: Float64Array,
  ) {
    this.dim = state.dim;
    this.configDim = config.dim;
    this.n = state.dim > 0 ? state.n : 0;
    this.samples = state.samples;
    this.width = state.dim > 0 ? widthOf(state) : 0;
    this.stride = recordStride(state);
    this.data = unpackFloat32(state.rows, this.n * this.stride);
    const owners = (this.memberKeys = new Uint32Array(this.n));
    const bits = new Uint32Array(this.data.buffer, this.data.byteOffset, this.data.length);
    for (let i = 0; i < this.n; i++) owners[i] = bits[i * this.stride + this.dim + COL.key];
    this.index = new NeighbourIndex(this.data, this.n, this.dim, this.stride, owners);
    const sq = nearestSq && nearestSq.length === this.n ? nearestSq : nearestOther(this.data, this.n, this.dim, this.stride).sq;
    this.nearestSorted = sq.map(Math.sqrt).sort();
    this.ready = this.n >= config.minMembers && this.samples >= config.minSamples && this.quantile(0.5) > 0;
    this.x = new Float64Array(config.dim);
    const g = config.gate;
    this.tailShares = g.enabled ? { key: g.tailShare, network: g.tailShare, tenant: g.tailShare } : null;
  }

  /**
   * The directions in which the members' sketches (all `width` coordinates) vary least, beyond those that
   * carry the first `span` of their variance (`minorDirections`); null when there are none or the
   * reference is not ready. Computed once per reference and `span`.
   */
  minor(span: number): MinorDirections | null {
    if (!this.ready) return null;
    const known = this.minors.get(span);
    if (known !== undefined) return known;
    const { data, stride, dim } = this;
    const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
    const column = (col: number) => Uint32Array.from({ length: this.n }, (_, i) => bits[i * stride + dim + col]);
    const owners = { key: this.memberKeys, network: column(COL.network), tenant: column(COL.tenant) };
    const found = minorDirections(this.n, this.width, (i, j) => data[i * stride + coordinateOffset(dim, j)], owners, span, this.tailShares);
    this.minors.set(span, found);
    return found;
  }

  /**
   * The effective dimension (participation ratio, `participationRatio`) of the directions between the
   * model's traffic's queries, over their first `width` sketch coordinates: the unit differences of
   * disjoint pairs of members, which are steps between natural records. A key that sends natural records
   * one after another steps in as many dimensions; one that sweeps a slice steps in fewer. Members are
   * paired in the order of a hash of their coordinates (the k-th with the (k + ⌊n/2⌋)-th), so the answer
   * depends on which members the reference holds, not on where it stores them (a restored or upgraded
   * reference answers as the live one did). Null before the reference is ready. Computed once per
   * reference and width.
   */
  stepDimension(width: number): number | null {
    if (!this.ready) return null;
    const w = Math.min(width, this.width);
    const known = this.stepDims.get(w);
    if (known !== undefined) return known;
    const { data, stride, dim, n } = this;
    const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
    const hash = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      let h = 0x811c9dc5;
      for (let j = 0; j < w; j++) h = Math.imul(h ^ bits[i * stride + coordinateOffset(dim, j)], 0x01000193) >>> 0;
      hash[i] = h;
    }
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => hash[a] - hash[b] || compareRows(data, a * stride, b * stride, w, dim));
    const half = n >> 1;
    const m = new Float64Array(w * w);
    const u = new Float64Array(w);
    for (let k = 0; k < half; k++) {
      const a = order[k] * stride;
      const b = order[k + half] * stride;
      let sq = 0;
      for (let j = 0; j < w; j++) {
        const o = coordinateOffset(dim, j);
        u[j] = data[a + o] - data[b + o];
        sq += u[j] * u[j];
      }
      if (!(sq > 0)) continue;
      const len = Math.sqrt(sq);
      for (let j = 0; j < w; j++) u[j] /= len;
      addOuterProduct(m, u, w, 1);
    }
    const found = participationRatio(m, w);
    this.stepDims.set(w, found);
    return found;
  }

  /** The `q` quantile of the members' distances to their nearest other member (linear between order statistics). */
  quantile(q: number): number {
    const s = this.nearestSorted;
    if (s.length === 0 || !Number.isFinite(s[0])) return 0;
    const pos = q * (s.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(s.length - 1, lo + 1);
    return s[lo] + (s[hi] - s[lo]) * (pos - lo);
  }

  /**
   * The members' least certain answers: the margin below which the lowest `q` of the members' margins lie
   * (`threshold`; NaN when no member's answer described the model), and per answered class the share of the
   * members answered that class whose margin lies below it (`byLabel`; `q` for a class no member was answered).
   * Each class's share is shrunk towards `q` by `SHRINK` members' worth, so a class of few members is not read
   * as certain or uncertain on their word alone. Computed once per reference and `q`.
   */
  leastCertain(q: number): LeastCertain {
    let v = this.leastCertainCache.get(q);
    if (v === undefined) {
      const mCol = this.dim + COL.margin;
      const lCol = this.dim + COL.label;
      const margins: number[] = [];
      for (let i = 0; i < this.n; i++) {
        const x = this.data[i * this.stride + mCol];
        if (Number.isFinite(x)) margins.push(x);
      }
      const sorted = Float64Array.from(margins).sort();
      const threshold = sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
      const hits = new Map<number, number>();
      const counts = new Map<number, number>();
      const hit = this.tailFlags('margin', threshold, 'low');
      for (let i = 0; i < this.n; i++) {
        const label = this.data[i * this.stride + lCol];
        if (hit[i] === UNKNOWN || !Number.isFinite(label)) continue;
        counts.set(label, (counts.get(label) ?? 0) + 1);
        hits.set(label, (hits.get(label) ?? 0) + hit[i]);
      }
      const byLabel = new Map<number, number>();
      for (const [label, n] of counts) byLabel.set(label, ((hits.get(label) ?? 0) + SHRINK * q) / (n + SHRINK));
      v = { threshold, byLabel, q };
      this.leastCertainCache.set(q, v);
    }
    return v;
  }

  /** Median member-to-nearest-member distance: the reference's unit of distance. */
  get scale(): number {
    return this.quantile(0.5);
  }

  /** Whether the nearest member to `x` (its `dim` values from `xo`) is farther than `radius`; `leaveOut`: members at distance 0 do not count. */
  fartherThan(x: ArrayLike<number>, radius: number, leaveOut = false, xo = 0): boolean {
    return this.index.fartherThan(x, radius, leaveOut, xo);
  }

  /**
   * The nearest of a sample of `m` members to the query (its first `dim` ≤ `this.dim` values from `xo`):
   * members spread evenly over the member order, those fed by `skipOwner` (a `referenceHash` of the
   * asking key) left out. Into `out`: the squared distance and how many members were compared (fewer
   * than `m` when the reference is smaller). This is how near a query of the model's traffic comes to
   * `compared` other queries of it — the yardstick for a key's distance to its own `compared` last queries.
   */
  nearestOfSample(x: ArrayLike<number>, xo: number, dim: number, m: number, skipOwner: number, out: { sq: number; compared: number }): void {
    out.sq = Number.POSITIVE_INFINITY;
    out.compared = 0;
    const n = this.n;
    if (!this.ready || dim > this.dim || m <= 0) return;
    const take = Math.min(m, n);
    if (this.sample?.take !== take && this.lastTake !== take) {
      // A size not asked for just before (a young key's history grows by one row per query): read the members where
      // they lie instead of gathering a sample that the next question would not use. The same sums, so the same answer.
      this.lastTake = take;
      this.nearestInPlace(x, xo, dim, take, skipOwner, out);
      return;
    }
    this.lastTake = take;
    const sample = this.sampleOf(take);
    const squares = sample.squares;
    squaredDistancesTo(x, xo, sample.rows, 0, take, this.dim, dim, squares, 0);
    const owners = sample.owners;
    let best = Number.POSITIVE_INFINITY;
    let compared = 0;
    for (let j = 0; j < take; j++) {
      if (skipOwner !== 0 && owners[j] === skipOwner) continue;
      compared++;
      if (squares[j] < best) best = squares[j];
    }
    out.sq = best;
    out.compared = compared;
  }

  /** `nearestOfSample` over the members of its sample of `take` as they lie in the reference's rows (nothing gathered). */
  private nearestInPlace(x: ArrayLike<number>, xo: number, dim: number, take: number, skipOwner: number, out: { sq: number; compared: number }): void {
    const { n, stride, data } = this;
    const owners = this.memberKeys;
    let best = Number.POSITIVE_INFINITY;
    let compared = 0;
    for (let j = 0; j < take; j++) {
      const i = Math.floor((j * n) / take);
      if (skipOwner !== 0 && owners[i] === skipOwner) continue;
      compared++;
      const sq = squaredDistance(x, xo, data, i * stride, dim);
      if (sq < best) best = sq;
    }
    out.sq = best;
    out.compared = compared;
  }

  /**
   * The members of `nearestOfSample`'s sample of `take`, side by side: their sketch prefixes (`dim` float32
   * values each) and owners, gathered again only when the size asked changes (busy keys all ask for
   * `history`), into arrays sized for the whole reference at the first call.
   */
  private sampleOf(take: number): MemberSample {
    const { n, dim, stride } = this;
    let sample = this.sample;
    if (!sample) sample = this.sample = { take: 0, rows: new Float32Array(n * dim), owners: new Uint32Array(n), squares: new Float64Array(n) };
    if (sample.take === take) return sample;
    for (let j = 0; j < take; j++) {
      const i = Math.floor((j * n) / take);
      for (let c = 0; c < dim; c++) sample.rows[j * dim + c] = this.data[i * stride + c];
      sample.owners[j] = this.memberKeys[i];
    }
    sample.take = take;
    return sample;
  }

  /** The coordinates a query is compared in: the members' `dim`, or before the first member the prefix it would get. */
  queryDim(sketch: readonly number[]): number {
    return this.dim || Math.min(this.configDim, sketch.length);
  }

  /**
   * The query's sketch prefix (`queryDim` coordinates) rounded to float32 as members are, into `out`;
   * false when the sketch does not fit (too short, or not finite).
   */
  readSketch(sketch: readonly number[], out: Float32Array | Float64Array): boolean {
    const dim = this.queryDim(sketch);
    if (dim < 2 || sketch.length < dim) return false;
    for (let j = 0; j < dim; j++) {
      const v = sketch[j];
      if (!Number.isFinite(v)) return false;
      out[j] = Math.fround(v);
    }
    return true;
  }

  /**
   * The `k` members nearest to the query within `radius` × `scale`, other keys' only (`owner`, a
   * `referenceHash` of the asking key), nearest first; null when the reference is not ready or the
   * sketch does not fit. The answer is reused by the next call with the same `out`.
   */
  neighbours(sketch: readonly number[], k: number, radius: number, owner: number, out: Neighbourhood): Neighbourhood | null {
    if (!this.ready) return null;
    if (out.idx.length >= k && this.asked.recall(sketch, k, radius, owner, out)) return out;
    if (!this.readSketch(sketch, this.x)) return null;
    const r = radius * this.scale;
    this.index.nearest(this.x, k, r * r, owner, out);
    this.asked.remember(sketch, k, radius, owner, out);
    return out;
  }

  /** Drops the neighbourhoods `neighbours` remembers (called at the end of each batch). */
  forgetAnswers(): void {
    this.asked.clear();
  }

  /** A neighbourhood buffer for `neighbours`. */
  static neighbourhood(k: number): Neighbourhood {
    return createNeighbourhood(k);
  }

  /**
   * Expected probability that an answer near the query of `nb` has its `stat` in the tail beyond
   * `threshold`: the share in the tail among the `k` nearest members within the radius that have the
   * statistic, each one missing there counted at `p0` (the model-wide share) — (hits + (k − found)·p0)/k;
   * `p0` without a neighbourhood. (A k-nearest-neighbour class-probability estimate: Fix & Hodges 1951.)
   */
  expectedTailShare(nb: Neighbourhood | null, stat: MemberStatistic, threshold: number, side: TailSide, k: number, p0: number): number {
    if (!nb) return p0;
    const hit = this.tailFlags(stat, threshold, side);
    let hits = 0;
    let found = 0;
    for (let j = 0; j < nb.count; j++) {
      const h = hit[nb.idx[j]];
      // A member whose answer did not describe the model (refused, truncated) counts as missing.
      if (h === UNKNOWN) continue;
      hits += h;
      found++;
    }
    return (hits + (k - found) * p0) / k;
  }

  /** Each member's membership of a tail, `UNKNOWN` without the statistic (remembered per statistic while the tail stays the same). */
  private tailFlags(stat: MemberStatistic, threshold: number, side: TailSide): Uint8Array {
    // Asked at every event with a tail that changes once per epoch: the last answer per statistic and side spares the key string.
    const slot = (stat === 'margin' ? 0 : 2) + (side === 'low' ? 0 : 1);
    const last = this.lastFlags[slot];
    if (last && last.threshold === threshold) return last.hit;
    const id = `${stat}:${side}:${threshold}`;
    let hit = this.flags.get(id);
    if (hit) {
      this.lastFlags[slot] = { threshold, hit };
      return hit;
    }
    hit = new Uint8Array(this.n);
    const col = this.dim + COL[stat];
    for (let i = 0; i < this.n; i++) {
      const v = this.data[i * this.stride + col];
      hit[i] = !Number.isFinite(v) ? UNKNOWN : (side === 'low' ? v < threshold : v > threshold) ? 1 : 0;
    }
    if (this.flags.size > 16) this.flags.clear();
    this.flags.set(id, hit);
    this.lastFlags[slot] = { threshold, hit };
    return hit;
  }

  /** The members' values of one statistic, in member order (NaN where the answer was not usable). */
  statistic(stat: MemberStatistic | 'label'): Float32Array {
    const col = this.dim + COL[stat];
    return Float32Array.from({ length: this.n }, (_, i) => this.data[i * this.stride + col]);
  }

  /** Member `i`'s owner hashes (key, network, tenant; 0: none). */
  owners(i: number): { key: number; network: number; tenant: number } {
    const bits = new Uint32Array(this.data.buffer, this.data.byteOffset, this.data.length);
    const o = i * this.stride + this.dim;
    return { key: bits[o + COL.key], network: bits[o + COL.network], tenant: bits[o + COL.tenant] };
  }

  /** Member `i`'s sketch prefix. */
  sketch(i: number): Float32Array {
    return this.data.slice(i * this.stride, i * this.stride + this.dim);
  }
}

/** The members of a `nearestOfSample` sample (the first `take` of each array), and room for their squared distances to a query. */
interface MemberSample {
  take: number;
  rows: Float32Array;
  owners: Uint32Array;
  squares: Float64Array;
}

/** Questions `AskedNeighbourhoods` holds before it starts afresh. */
const MAX_ASKED = 1 << 16;

/**
 * `ModelReference.neighbours`' answers per query sketch, in flat columns that grow and are reused from
 * batch to batch: no object or array per question.
 */
class AskedNeighbourhoods {
  private readonly slots = new Map<readonly number[], number>();
  private k = new Int32Array(256);
  private radius = new Float64Array(256);
  private owner = new Float64Array(256);
  private from = new Int32Array(256);
  private count = new Int32Array(256);
  private idx = new Int32Array(4096);
  private d2 = new Float64Array(4096);
  /** Slots and rows taken. */
  private n = 0;
  private used = 0;

  /** Copies the answer remembered for this question into `out`; false when there is none. */
  recall(sketch: readonly number[], k: number, radius: number, owner: number, out: Neighbourhood): boolean {
    const s = this.slots.get(sketch);
    if (s === undefined || this.k[s] !== k || this.radius[s] !== radius || this.owner[s] !== owner) return false;
    const from = this.from[s];
    const n = this.count[s];
    for (let j = 0; j < n; j++) {
      out.idx[j] = this.idx[from + j];
      out.d2[j] = this.d2[from + j];
    }
    out.count = n;
    return true;
  }

  /** Remembers `out` as the answer to this question (the last answer per sketch counts). */
  remember(sketch: readonly number[], k: number, radius: number, owner: number, out: Neighbourhood): void {
    if (this.n >= MAX_ASKED) this.clear();
    const s = this.n++;
    const n = out.count;
    if (s === this.k.length) this.growSlots();
    if (this.used + n > this.idx.length) this.growRows(this.used + n);
    this.slots.set(sketch, s);
    this.k[s] = k;
    this.radius[s] = radius;
    this.owner[s] = owner;
    this.from[s] = this.used;
    this.count[s] = n;
    for (let j = 0; j < n; j++) {
      this.idx[this.used + j] = out.idx[j];
      this.d2[this.used + j] = out.d2[j];
    }
    this.used += n;
  }

  clear(): void {
    this.slots.clear();
    this.n = 0;
    this.used = 0;
  }

  private growSlots(): void {
    const n = this.k.length * 2;
    this.k = grown(this.k, new Int32Array(n));
    this.radius = grown(this.radius, new Float64Array(n));
    this.owner = grown(this.owner, new Float64Array(n));
    this.from = grown(this.from, new Int32Array(n));
    this.count = grown(this.count, new Int32Array(n));
  }

  private growRows(need: number): void {
    let n = this.idx.length * 2;
    while (n < need) n *= 2;
    this.idx = grown(this.idx, new Int32Array(n));
    this.d2 = grown(this.d2, new Float64Array(n));
  }
}

function grown<T extends Int32Array | Float64Array>(old: T, into: T): T {
  into.set(old);
  return into;
}

/** Two members' first `w` sketch coordinates compared in order (a tie-break that needs no storage order). */
function compareRows(data: Float32Array, a: number, b: number, w: number, dim: number): number {
  for (let j = 0; j < w; j++) {
    const o = coordinateOffset(dim, j);
    if (data[a + o] !== data[b + o]) return data[a + o] - data[b + o];
  }
  return 0;
}
