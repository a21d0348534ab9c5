import { z } from 'zod';
import { packArray, unpackFloat32 } from '../../src/compute/packedVectors.ts';
import { lowerBound } from '../../src/compute/ProjectionIndex.ts';
import type { DetectorContext } from '../types.ts';
import { type EpochQuota, takeQuota } from './EpochHistogram.ts';
import { entityName } from './entityName.ts';
import { inTail, type Tail, type TailBaselineConfig, type TailSide } from './TailBaseline.ts';

/**
 * Config of the region-conditional expected tail share (`LocalBaseline`), in
 * a detector's schema under `local`.
 */
export const localBaselineSchema = z
  .object({
    /**
     * Judge each answer against the model's traffic near its query (true) or against the model-wide share
     * alone (false, as before this existed). Off, a person whose questions all fall where the model is unsure
     * (an ambiguous season, a borderline applicant) looks like an active-learning attacker.
     */
    enabled: z.boolean().default(true),
    /** Sketch coordinates compared (a prefix of a random projection is itself one). */
    dim: z.number().int().min(2).max(64).default(8),
    /** Reference members per model: a reservoir sample of answered queries with their statistic. */
    size: z.number().int().min(16).max(4096).default(512),
    /**
     * Neighbours of a query whose answers vote: the `k` nearest members within `radius` × the reference's
     * median nearest-neighbour distance, and, for each of the `k` missing there, the model-wide share. A
     * query amid the model's traffic is judged by its neighbours alone; one far from it (synthetic probing)
     * finds few or none and is judged by the model-wide share, as without this.
     */
    k: z.number().int().min(1).max(256).default(16),
    radius: z.number().gt(0).default(3),
  })
  .strict()
  .prefault({});
export type LocalBaselineConfig = z.output<typeof localBaselineSchema>;

/**
 * A model's local reference (aggregate state, plain JSON): a reservoir
 * sample of usable answers, each a record of `stride` = dim + width + 1
 * float32 — the query's sketch prefix, the answer's `width` statistics
 * (margin, normalised entropy; NaN when missing) and the bits of a 32-bit
 * hash of the key that fed it — frozen within an event-time epoch.
 * Ceiling: 2 × size × stride float32 as base64 — ≈ 55 kB of JSON with one
 * statistic at the defaults, ≈ 60 kB with two — one per model and detector.
 */
export interface LocalSample {
  dim: number;
  width: number;
  /** Members, `n` records, base64. */
  rows: string;
  n: number;
  /** Samples ever folded in (decayed like the members); scoring starts at the baseline's `minReferenceSamples`. */
  samples: number;
  /** Median distance from a member to its nearest other member (0 while warming up): the unit of `radius`. */
  scale: number;
  epoch: number;
  /** The current epoch's reservoir sample, `poolN` records of the `poolSeen` fed, base64. */
  pool: string;
  poolN: number;
  poolSeen: number;
  /** State of the sample's xorshift32 generator (deterministic: replay repeats itself). */
  rng: number;
}

/** The neighbours of one query: member indices, nearest first, and how many (−1: no usable reference). */
export interface Neighbourhood {
  idx: Int32Array;
  count: number;
}

/** 32-bit FNV-1a of a key id: which key fed a member, so that a key is never judged by its own answers. */
export function ownerOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function nextRandom(s: LocalSample): number {
  let x = s.rng | 0 || 0x2545f491;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  s.rng = x >>> 0;
  return s.rng / 4294967296;
}

/**
 * A sample's members decoded for questions: sketch rows sorted by their projection on the members'
 * principal axis, for nearest-neighbour searches that skip most rows (Friedman, Baskett & Shustek, "An
 * Algorithm for Finding Nearest Neighbors", IEEE Trans. Computers C-24(10), 1975: a row whose gap along
 * one unit direction already exceeds the distance sought cannot be nearer, nor any row beyond it).
 */
interface Decoded {
  rows: string;
  /** Sketch prefixes in sorted order, `n` × dim (float32 values, held as float64 for the distance loop). */
  sorted: Float64Array;
  /** Projection of each sorted row on `axis`. */
  keys: Float64Array;
  axis: Float64Array;
  /** Member index of each sorted row, and its key hash. */
  order: Int32Array;
  owners: Uint32Array;
  /** Statistics per member (member order), `n` × width. */
  values: Float32Array;
  /** Per statistic column: the tail last asked about and each sorted row's membership of it. */
  flags: ({ threshold: number; side: TailSide; hit: Uint8Array } | undefined)[];
}

/** The top principal axis of `n` rows (power iteration on their covariance; any unit vector would be correct, this one prunes best). */
function principalAxis(data: Float32Array, n: number, dim: number, stride: number): Float64Array {
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += data[i * stride + j] / n;
  const cov = new Float64Array(dim * dim);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < dim; a++) {
      const da = data[i * stride + a] - mean[a];
      for (let b = 0; b < dim; b++) cov[a * dim + b] += da * (data[i * stride + b] - mean[b]);
    }
  }
  let v = new Float64Array(dim).fill(1 / Math.sqrt(dim));
  for (let it = 0; it < 30; it++) {
    const w = new Float64Array(dim);
    for (let a = 0; a < dim; a++) for (let b = 0; b < dim; b++) w[a] += cov[a * dim + b] * v[b];
    const norm = Math.hypot(...w);
    if (!(norm > 0)) break;
    v = w.map((x) => x / norm);
  }
  return v;
}

/** Rounding allowance of the axis bound (a projection gap never exceeds the distance, but its float64 sum may by an ulp). */
const SLACK = 1 + 1e-9;

/** How many of 64 evenly spaced members the scale is measured on (enough for a median; 64 × n distances per fold). */
const SCALE_PROBES = 64;

/**
 * The share of answers in a tail that the model's own traffic gets near a
 * query: the expected probability, for this query, that its answer is in
 * the tail. A key's tail share (small margins, high entropies) is compared
 * with the average of these instead of with the model-wide share, so a key
 * is flagged for asking where the model is unsure *more often than the
 * model's traffic in the same region of the input space is answered
 * unsurely* — the null hypothesis of natural records drawn where the key
 * asks. A person whose topic is ambiguous (a season between rain and fog)
 * meets it; an active-learning attacker does not: uncertainty sampling
 * (Pal et al., "ActiveThief", AAAI 2020) and line searches (Lowd & Meek,
 * KDD 2005) pick the inputs closest to a decision boundary, a thin set that
 * natural records near the same inputs mostly miss.
 *
 * The estimate is a k-nearest-neighbour class-probability estimate (Fix &
 * Hodges 1951; Cover & Hart 1967) in the gateway's sketch space, over
 * members within `radius` times the reference's median nearest-neighbour
 * distance; each of the k missing within the radius counts at the
 * model-wide share p₀: (tail hits among them + (k − found)·p₀) / k. So a
 * query amid the model's traffic is judged by the answers near it, and one
 * off the model's traffic (synthetic probing) by p₀, as before. Shrinking
 * a full neighbourhood toward p₀ as well would bias the estimate low exactly
 * where the model is most unsure (a region at 60% small margins with 16
 * neighbours and 4 pseudo-counts of p₀ = 10% comes out at 50%). A key's
 * own answers are left out, so no key vouches for itself.
 *
 * The reference is guarded like the model baselines (see `mayFeed`): only
 * keys judged and found unremarkable feed it, each at most `perKeyEpochCap`
 * answers an epoch; it is frozen within an epoch and each completed epoch
 * replaces a share `alpha` of its members.
 *
 * One instance per detector: it keeps each reference's decoded members
 * between polls (valid while the packed string is the same), and the
 * current epoch's pool decoded during a poll (`flush` packs it).
 */
export class LocalBaseline {
  private readonly decoded = new WeakMap<LocalSample, Decoded>();
  private readonly pools = new Map<LocalSample, Float32Array>();
  /** The poll's samples by model id (looked up once per poll, not once per event). */
  private readonly open = new Map<string, LocalSample>();
  private readonly nb: Neighbourhood;
  private readonly d2: Float64Array;
  /** The query's sketch prefix, rounded to float32 as the members are. */
  private readonly x: Float64Array;

  constructor(
    private readonly c: LocalBaselineConfig,
    private readonly base: TailBaselineConfig,
    /** Statistics per member. */
    readonly width: number,
  ) {
    this.nb = { idx: new Int32Array(c.k), count: -1 };
    this.d2 = new Float64Array(c.k);
    this.x = new Float64Array(c.dim);
  }

  /** Starts a poll: samples are looked up afresh (a failed poll leaves none behind). */
  begin(): void {
    this.open.clear();
  }

  /**
   * The model's sample (aggregate entity `model:local:<model>`), moved to the epoch of `ts`; null when the
   * local baseline is off (then no such entity exists).
   */
  sample(ctx: DetectorContext, model: string, ts: number): LocalSample | null {
    if (!this.c.enabled) return null;
    let s = this.open.get(model);
    if (!s) this.open.set(model, (s = ctx.aggregate<LocalSample>(entityName('model:local:', model), () => this.create())));
    this.advance(s, ts);
    return s;
  }

  private create(): LocalSample {
    return { dim: 0, width: this.width, rows: '', n: 0, samples: 0, scale: 0, epoch: -1, pool: '', poolN: 0, poolSeen: 0, rng: 0x2545f491 };
  }

  /** Moves the sample to the epoch of `ts`, folding the finished epoch's pool in. */
  private advance(s: LocalSample, ts: number): void {
    const epoch = Math.floor(ts / this.base.epochMs);
    if (s.epoch < 0) s.epoch = epoch;
    if (epoch <= s.epoch) return;
    s.epoch = epoch;
    if (s.poolSeen < this.base.minEpochSamples || s.dim === 0) return; // too thin: keep sampling into the next epoch
    const size = this.c.size;
    const stride = s.dim + s.width + 1;
    const pool = this.pool(s);
    const rows = new Float32Array(size * stride);
    rows.set(unpackFloat32(s.rows).subarray(0, s.n * stride));
    // Warming up, the pool fills the free rows; after that it replaces a share `alpha` of the members.
    const replace = Math.min(s.poolN, s.n < size ? size - s.n : Math.max(1, Math.round(this.base.alpha * size)));
    const order = Int32Array.from({ length: s.poolN }, (_, k) => k);
    for (let k = 0; k < replace; k++) {
      const pick = k + Math.floor(nextRandom(s) * (s.poolN - k)); // a partial Fisher–Yates shuffle
      const from = order[pick];
      order[pick] = order[k];
      const to = s.n < size ? s.n++ : Math.floor(nextRandom(s) * s.n);
      rows.set(pool.subarray(from * stride, (from + 1) * stride), to * stride);
    }
    s.samples = (1 - this.base.alpha) * s.samples + s.poolSeen;
    s.scale = medianNearest(rows, s.n, s.dim, stride);
    s.rows = packArray(rows.subarray(0, s.n * stride));
    s.poolN = 0;
    s.poolSeen = 0;
    s.pool = '';
    this.pools.delete(s);
  }

  /**
   * Whether a key's answer may feed the sample: once the key has been judged on `minEvents` answers and
   * found unremarkable (its score below the baseline's `excludeAboveScore`) — any unflagged key while the
   * sample warms up, as for the model histograms — within `perKeyEpochCap` answers an epoch (its own
   * `quota`). An attacker is flagged when it is first judged and never feeds after warm-up. Unlike the
   * model histograms' gate, a key whose own tail share runs above the expected one is not turned away:
   * that would keep out exactly the uncertain answers of uncertain regions and bias the local rates low
   * where they matter (on the quality benchmark's seed 3, an interactive user's expected small-margin share
   * came out at 12% with that gate and 22% without, against 27% observed).
   */
  mayFeed(s: LocalSample, quota: EpochQuota, judged: number, score: number, minEvents: number, ts: number): boolean {
    if (score >= this.base.excludeAboveScore || (judged < minEvents && this.ready(s))) return false;
    return takeQuota(quota, ts, this.base.epochMs, this.base.perKeyEpochCap);
  }

  /** Whether the sample answers questions (enough samples folded in, a scale known). */
  ready(s: LocalSample | null): s is LocalSample {
    return s !== null && s.scale > 0 && s.samples >= this.base.minReferenceSamples;
  }

  /**
   * Adds an answered query to the epoch's reservoir sample (Vitter 1985, Algorithm R): its sketch prefix,
   * its statistics (`values`, `width` of them) and its key. The caller decides whether the key may feed.
   */
  feed(s: LocalSample, sketch: readonly number[], values: ArrayLike<number>, owner: number): void {
    if (!this.readSketch(s, sketch)) return;
    const stride = s.dim + s.width + 1;
    const pool = this.pool(s);
    s.poolSeen++;
    let at = s.poolN;
    if (s.poolN < this.c.size) s.poolN++;
    else {
      at = Math.floor(nextRandom(s) * s.poolSeen);
      if (at >= this.c.size) return;
    }
    const o = at * stride;
    pool.set(this.x.subarray(0, s.dim), o);
    for (let j = 0; j < s.width; j++) pool[o + s.dim + j] = values[j];
    new Uint32Array(pool.buffer, pool.byteOffset, pool.length)[o + stride - 1] = owner;
  }

  /**
   * The `k` members nearest to the query within `radius` × scale, other keys' only, nearest first (ties by
   * member order); `count` −1 when the reference is not ready, disabled, or the query has no usable sketch.
   * The answer is reused by the next call.
   */
  neighbours(s: LocalSample | null, sketch: readonly number[], owner: number): Neighbourhood {
    const nb = this.nb;
    nb.count = -1;
    if (!this.ready(s) || !this.readSketch(s, sketch)) return nb;
    const { sorted, keys, axis, order, owners } = this.decode(s);
    const dim = s.dim;
    const n = s.n;
    const x = this.x;
    const k = this.c.k;
    const d2 = this.d2;
    const idx = nb.idx;
    const radius = this.c.radius * s.scale;
    let bound = radius * radius;
    let found = 0;
    let key = 0;
    for (let j = 0; j < dim; j++) key += x[j] * axis[j];
    let up = lowerBound(keys, n, key);
    let down = up - 1;
    // Rows in order of their gap along the axis; a side is done once its gap alone exceeds the bound.
    for (;;) {
      const gu = up < n ? keys[up] - key : -1;
      const gd = down >= 0 ? key - keys[down] : -1;
      let r: number;
      if (gu >= 0 && (gd < 0 || gu <= gd)) {
        if (gu * gu > bound * SLACK) {
          up = n;
          continue;
        }
        r = up++;
      } else if (gd >= 0) {
        if (gd * gd > bound * SLACK) {
          down = -1;
          continue;
        }
        r = down--;
      } else break;
      if (owners[r] === owner) continue;
      const o = r * dim;
      let sum = 0;
      for (let j = 0; j < dim; j++) {
        const d = sorted[o + j] - x[j];
        sum += d * d;
      }
      if (sum > bound) continue;
      const m = order[r];
      // Into the sorted k best, ties by member index (the answer of a full scan in member order).
      if (found === k && sum === bound && m > idx[k - 1]) continue;
      let p = found < k ? found++ : k - 1;
      while (p > 0 && (d2[p - 1] > sum || (d2[p - 1] === sum && idx[p - 1] > m))) {
        d2[p] = d2[p - 1];
        idx[p] = idx[p - 1];
        p--;
      }
      d2[p] = sum;
      idx[p] = m;
      if (found === k) bound = d2[k - 1];
    }
    nb.count = found;
    return nb;
  }

  /**
   * Expected probability that the answer to the query of `nb` lies in `tail` (statistic `column`): the share
   * in the tail among its k nearest members within the radius, each member missing there counted at the
   * model-wide share p₀ — (hits + (k − found)·p₀)/k; p₀ itself without a usable reference.
   */
  expected(s: LocalSample | null, nb: Neighbourhood, column: number, tail: Tail, side: TailSide): number {
    const p0 = tail.expected;
    if (!s || nb.count < 0) return p0;
    const hit = this.tailFlags(s, column, tail.threshold, side);
    let hits = 0;
    for (let j = 0; j < nb.count; j++) hits += hit[nb.idx[j]];
    return (hits + (this.c.k - nb.count) * p0) / this.c.k;
  }

  /** Packs the pools this poll touched into their samples and forgets the poll's samples (call at the end of `processBatch`). */
  flush(): void {
    for (const [s, pool] of this.pools) s.pool = packArray(pool.subarray(0, s.poolN * (s.dim + s.width + 1)));
    this.pools.clear();
    this.open.clear();
  }

  /** Copies the sketch prefix into `x`, fixing the sample's dimension on first use; false when it does not fit. */
  private readSketch(s: LocalSample, sketch: readonly number[]): boolean {
    const dim = Math.min(this.c.dim, sketch.length);
    if (dim < 2) return false;
    if (s.dim === 0) s.dim = dim;
    if (s.dim !== dim) return false;
    for (let j = 0; j < dim; j++) {
      const v = sketch[j];
      if (!Number.isFinite(v)) return false;
      this.x[j] = Math.fround(v);
    }
    return true;
  }

  private decode(s: LocalSample): Decoded {
    const hit = this.decoded.get(s);
    if (hit && hit.rows === s.rows) return hit;
    const dim = s.dim;
    const stride = dim + s.width + 1;
    const n = s.n;
    const data = unpackFloat32(s.rows, n * stride);
    const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
    const axis = principalAxis(data, n, dim, stride);
    const proj = new Float64Array(n);
    for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) proj[i] += data[i * stride + j] * axis[j];
    const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => proj[a] - proj[b] || a - b);
    const fresh: Decoded = {
      rows: s.rows,
      sorted: new Float64Array(n * dim),
      keys: new Float64Array(n),
      axis,
      order,
      owners: new Uint32Array(n),
      values: new Float32Array(n * s.width),
      flags: [],
    };
    for (let r = 0; r < n; r++) {
      const i = order[r];
      fresh.sorted.set(data.subarray(i * stride, i * stride + dim), r * dim);
      fresh.keys[r] = proj[i];
      fresh.owners[r] = bits[i * stride + stride - 1];
    }
    for (let i = 0; i < n; i++) fresh.values.set(data.subarray(i * stride + dim, i * stride + dim + s.width), i * s.width);
    this.decoded.set(s, fresh);
    return fresh;
  }

  private pool(s: LocalSample): Float32Array {
    let pool = this.pools.get(s);
    if (!pool) this.pools.set(s, (pool = unpackFloat32(s.pool, this.c.size * (s.dim + s.width + 1))));
    return pool;
  }

  /** Each member's membership of the tail (remembered while the members and the tail stay the same). */
  private tailFlags(s: LocalSample, column: number, threshold: number, side: TailSide): Uint8Array {
    const d = this.decode(s);
    const cached = d.flags[column];
    if (cached && cached.threshold === threshold && cached.side === side) return cached.hit;
    const hit = new Uint8Array(s.n);
    const tail = { threshold, expected: 0 };
    for (let i = 0; i < s.n; i++) {
      const v = d.values[i * s.width + column];
      hit[i] = Number.isFinite(v) && inTail(v, tail, side) ? 1 : 0;
    }
    d.flags[column] = { threshold, side, hit };
    return hit;
  }
}

/** Median over up to `SCALE_PROBES` evenly spaced members of the distance to their nearest other member. */
function medianNearest(rows: Float32Array, n: number, dim: number, stride: number): number {
  if (n < 2) return 0;
  const probes = Math.min(n, SCALE_PROBES);
  const dist = new Float64Array(probes);
  for (let p = 0; p < probes; p++) {
    const i = Math.floor((p * n) / probes);
    let best = Number.POSITIVE_INFINITY;
    for (let m = 0; m < n; m++) {
      if (m === i) continue;
      let sum = 0;
      for (let j = 0; j < dim && sum < best; j++) {
        const d = rows[m * stride + j] - rows[i * stride + j];
        sum += d * d;
      }
      if (sum < best) best = sum;
    }
    dist[p] = Math.sqrt(best);
  }
  dist.sort();
  return dist[probes >> 1];
}
