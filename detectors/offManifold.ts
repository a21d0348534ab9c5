import { z } from 'zod';
import { DecodedCache } from '../src/compute/DecodedCache.ts';
import { appendRow, packArray, unpackFloat32 } from '../src/compute/packedVectors.ts';
import type { InferenceEvent } from '../src/contract.ts';
import { eventTimeOrder } from './shared/batch.ts';
import { createQuota, type EpochQuota, takeQuota } from './shared/EpochHistogram.ts';
import { addToShare, createShare, type EwShare, shareExcess, shareExcessZ } from './shared/EwShare.ts';
import { entityName } from './shared/entityName.ts';
import { continuesStraight } from './shared/StraightRun.ts';
import { addArrival, createGapStats, type GapStats, gapCv } from './shared/GapStats.ts';
import { fmt, pct, ramp } from './shared/math.ts';
import type { Detector, DetectorContext, DetectorDefinition, DetectorOutput, KeyGroup } from './types.ts';
import { ProjectionIndex } from '../src/compute/ProjectionIndex.ts';
import { squaredDistance } from '../src/compute/squaredDistance.ts';

const int = () => z.number().int();
const unit = () => z.number().min(0).max(1);

export const offManifoldConfigSchema = z.object({
  /** Sketch coordinates used (a prefix of a random projection is itself one). */
  dim: int().min(2).max(64).default(8),
  /** The per-model reference: this many sketches of benign-looking traffic (reservoir sampling). */
  reference: z
    .object({
      size: int().min(16).max(4096).default(512),
      /** Event-time epoch: the reference is frozen within one, so an epoch's traffic is judged against earlier traffic only. */
      epochMs: int().positive().default(10 * 60_000),
      /** Share of the reference replaced by each completed epoch's sample. */
      alpha: z.number().gt(0).max(1).default(0.1),
      /** An epoch with fewer fed samples carries them over instead of being folded in. */
      minEpochSamples: int().positive().default(100),
      /** Samples folded in before any key is scored. */
      minSamples: int().positive().default(300),
      /** Most samples one key feeds per epoch. */
      perKeyEpochCap: int().positive().default(50),
      /** A key scoring at least this much no longer feeds the reference… */
      excludeAboveScore: unit().default(0.3),
      /** …nor one whose own off-manifold share is this many standard errors above the expected… */
      leanZ: z.number().default(2),
      /** …judged once it has this many scored queries (before that, once the reference exists, it does not feed). */
      probationEvents: int().min(0).default(10),
      /**
       * Reference members whose own nearest-neighbour distance exceeds this multiple of the median are
       * dropped when an epoch is folded: isolated points are what probing leaves behind while the
       * reference warms up (a slow trickle of random queries from the first hour on).
       */
      trim: z.number().gt(1).default(4),
    })
    .strict()
    .prefault({}),
  /** A query is off the manifold when its nearest reference sketch is farther than this quantile of the reference's own (leave-one-out) nearest-neighbour distances. */
  quantile: z.number().gt(0).lt(1).default(0.99),
  /**
   * A second, looser test that counts only for machine-paced keys: the share of queries beyond the
   * `quantile` quantile (0.95), scored like the main share and scaled by how metronomic the key's calls
   * are (coefficient of variation of its inter-arrival gaps: full weight at `cvMetronomic`, none from
   * `cvHuman`, after `minGaps` gaps). Natural data from a neighbouring distribution — Knockoff Nets' and
   * ActiveThief's transfer sets, New York weather against a Seattle model in the quality benchmark — puts
   * a third or more of its queries beyond the 95% quantile but only 10–15% beyond the 99%, under the
   * excess where the main score starts; so does an honest person whose data come from elsewhere or whose
   * topic sits where the model's traffic is thin. What tells the script from the person here is the
   * pacing (a script that mimics human pacing is judged by the main test only).
   */
  automated: z
    .object({
      enabled: z.boolean().default(true),
      quantile: z.number().gt(0).lt(1).default(0.95),
      /** Effective window (gaps) of the inter-arrival statistics. */
      gapWindow: int().positive().default(64),
      minGaps: int().positive().default(30),
      cvMetronomic: z.number().min(0).default(0.15),
      cvHuman: z.number().min(0).default(0.6),
    })
    .strict()
    .prefault({}),
  /**
   * A query that continues the key's previous step in a straight line — the same direction (cos ≥
   * `straightCos` between the two steps, same sense) and about the same length (ratio within
   * `straightRatio`) — is not scored: a what-if analyst sweeps one feature of a real record in even steps
   * to the ends of its range, and the run's far end may leave the manifold although its turn points (the
   * real records) do not. Straight runs are `grid-sweep`'s business (it flags directions that recur run
   * after run). Natural or random queries almost never continue a step: 0.2–2% of them in the benchmark.
   */
  straightCos: z.number().min(0).max(1).default(0.995),
  straightRatio: z.number().min(1).default(2.5),
  /**
   * Queries a key makes while the model's reference warms up (a new deployment or model) are not lost: the
   * newest `backlog` of them (straight continuations aside) are held and judged as soon as the reference
   * exists, so a trickle that began before it — a slow-and-low attacker from the first hour — is judged on
   * all its queries, not only on those after. 0 disables.
   */
  backlog: int().min(0).max(256).default(50),
  /**
   * On the main test an off-manifold query counts only in a new place: farther than the threshold from
   * each of the key's last `places` off-manifold queries. A person whose topic or home sits where the
   * model's traffic is thin leaves the manifold again and again in the same few places (and re-asks);
   * random probes, sweeps and synthetic steps leave it all over. 0 counts every one.
   */
  places: int().min(0).max(64).default(16),
  /** Effective window (queries) of the key's off-manifold share. */
  window: int().positive().default(200),
  /** Scored queries a key needs before its share counts. */
  minEvents: int().positive().default(50),
  /** Excess share (s − p₀)/(1 − p₀) where the score starts and where it is full. */
  excessLow: unit().default(0.15),
  excessHigh: unit().default(0.4),
  /** Binomial z-score of the excess where the score starts and where it is full. */
  zLow: z.number().default(3),
  zHigh: z.number().default(6),
});
export type OffManifoldConfig = z.output<typeof offManifoldConfigSchema>;

/**
 * A model's reference (aggregate state, plain JSON): frozen rows, the
 * distance threshold derived from them, and the sample the current epoch
 * is collecting. Ceiling: 2 × size × dim float32 as base64 (≈ 44 kB at the
 * defaults), one per model.
 */
export interface ModelReference {
  dim: number;
  /** Reference rows, `n` × `dim` float32, base64. */
  rows: string;
  n: number;
  /** Samples ever folded in (decayed like the reference); scoring starts at `minSamples`. */
  samples: number;
  /** Nearest-neighbour distance beyond which a query is off the manifold (0 while warming up). */
  threshold: number;
  /** The looser threshold of the `automated` test (its quantile of the same distances); absent in older snapshots. */
  loose?: number;
  epoch: number;
  /** The current epoch's reservoir sample of fed sketches. */
  pool: string;
  poolN: number;
  poolSeen: number;
}

/**
 * Per-key state: two shares, a quota, the gap statistics, the last score, the last sketch and step
 * (2 × dim float32, base64) and up to `places` off-manifold sketches (places × dim float32, ≈ 700 bytes
 * of base64 at the defaults): under 1.2 kB of JSON; while the model's reference warms up, also up to `backlog` held
 * sketches (backlog × dim float32 as base64, ≈ 2.2 kB at the defaults), dropped once judged.
 */
export interface OffManifoldState {
  share: EwShare;
  /** The key's last `places` off-manifold sketch prefixes (base64 float32 rows); absent in older snapshots. */
  offRing?: string;
  /** The share beyond the looser threshold, and the key's inter-arrival gaps (the `automated` test); absent in older snapshots. */
  looseShare?: EwShare;
  gaps?: GapStats;
  quota: EpochQuota;
  score: number;
  /** The previous query's sketch prefix and the step that led to it (base64 float32, '' when none). */
  last: string;
  step: string;
  /** Queries held while the model's reference warmed up (base64 float32 rows) and that model; absent in older snapshots. */
  backlog?: string;
  backlogModel?: string;
}

/** A deterministic uniform draw in [0,1) from two integers (replay repeats itself). */
function draw(a: number, b: number): number {
  let x = (Math.imul(a | 0, 0x9e3779b1) ^ Math.imul(b | 0, 0x85ebca6b)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return ((x ^ (x >>> 16)) >>> 0) / 4294967296;
}

/** Squared nearest-neighbour distances of a reference's members among each other, and which member is nearest (−1: none). */
export interface Neighbours {
  sq: Float64Array;
  nn: Int32Array;
}

/**
 * Each row's squared distance to its nearest other row, and that row. With `prior` (the answer for the
 * first `prior.sq.length` rows before the rows flagged in `changed` were written), a row whose prior
 * nearest neighbour is still there unchanged only needs the changed rows: its distances to the other
 * unchanged rows were all in the prior minimum. The rest are scanned in full. Minima of the same float64
 * sums, so the answer is exactly that of a full scan.
 */
export function leaveOneOut(rows: Float32Array, n: number, dim: number, changed: Uint8Array, prior: Neighbours | null): Neighbours {
  const sq = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const nn = new Int32Array(n).fill(-1);
  // Rows scanned in full, and rows whose prior answer stands but for the changed rows.
  const full = new Int32Array(n);
  const kept = new Int32Array(n);
  let nf = 0;
  let nk = 0;
  for (let i = 0; i < n; i++) {
    const was = prior && i < prior.sq.length && !changed[i] ? prior.nn[i] : -1;
    if (was < 0 || changed[was]) full[nf++] = i;
    else {
      sq[i] = prior!.sq[i];
      nn[i] = was;
      kept[nk++] = i;
    }
  }
  // Full rows against each other once, then against the others (which need only the changed rows, a subset of these).
  for (let a = 0; a < nf; a++) {
    const i = full[a];
    let best = sq[i];
    let arg = nn[i];
    for (let b = a + 1; b < nf + nk; b++) {
      const k = b < nf ? full[b] : kept[b - nf];
      const d = squaredDistance(rows, i * dim, rows, k * dim, dim);
      if (d < best) {
        best = d;
        arg = k;
      }
      if (d < sq[k]) {
        sq[k] = d;
        nn[k] = i;
      }
    }
    sq[i] = best;
    nn[i] = arg;
  }
  return { sq, nn };
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** What the evidence quotes, as of one event: the model, its threshold, the key's score and share. */
interface View {
  model: string;
  threshold: number;
  score: number;
  share: EwShare;
  /** When the `automated` test gave the score: its share, threshold and the key's gap CV. */
  loose?: { share: EwShare; threshold: number; cv: number };
}

/**
 * Off-manifold queries: how many of a key's inputs lie where the model's
 * traffic never goes.
 *
 * Extraction attacks that synthesise their queries — Tramèr et al.'s
 * equation-solving with uniform random inputs (USENIX Security 2016),
 * lattice sweeps, Papernot et al.'s Jacobian augmentation (AsiaCCS 2017),
 * whose ±λ steps leave the data manifold round after round — ask about
 * inputs no real client sends. Kariyappa & Qureshi ("Defending Against
 * Model Stealing Attacks with Adaptive Misinformation", CVPR 2020) build
 * their defence on exactly this: extraction queries are out of
 * distribution. VarDetect (Pal et al., "Stateful Detection of Model
 * Extraction Attacks", 2021) compares each user's query distribution with
 * benign traffic. Here the per-query test is the k-nearest-neighbour
 * out-of-distribution score of Sun, Ming, Zhu & Li ("Out-of-Distribution
 * Detection with Deep Nearest Neighbors", ICML 2022) with k = 1, in the
 * gateway's sketch space: a query is off the manifold when its nearest
 * neighbour in a per-model reference sample of traffic is farther than the
 * `quantile` of the reference's own leave-one-out nearest-neighbour
 * distances, so a natural query is off with probability ≈ 1 − quantile.
 * The key's share of such queries is tested against that rate (excess and
 * binomial z, like `boundary-probing`).
 *
 * The reference is learned online from all keys, guarded as the other
 * model baselines are: frozen within an event-time epoch, each key feeds at
 * most `perKeyEpochCap` sketches per epoch, a key feeds only once it has
 * passed probation with an unremarkable share and a low score, and isolated
 * members are trimmed at each fold. A what-if analyst's sweep leaves the
 * manifold only at the ends of a feature's range; a replayed test set and a
 * batch of real records stay on it.
 */
export class OffManifoldDetector implements Detector<OffManifoldState> {
  readonly name = 'off-manifold';
  readonly family = 'geometry' as const;
  readonly signature = true;
  /** Each reference's members' nearest neighbours among each other, from its last fold (see `leaveOneOut`). */
  private readonly neighbours = new DecodedCache<ModelReference, Neighbours>();
  /** Decoded reference rows per model reference and their index (built on first use), valid while its `rows` string is the same. */
  private readonly decoded = new WeakMap<ModelReference, { rows: string; data: Float32Array; index?: ProjectionIndex }>();

  constructor(private readonly config: OffManifoldConfig) {}

  initState(): OffManifoldState {
    return { share: createShare(), quota: createQuota(), score: 0, last: '', step: '' };
  }

  processBatch(groups: readonly KeyGroup<OffManifoldState>[], ctx: DetectorContext): DetectorOutput[] {
    const c = this.config;
    const scores = groups.map((g) => new Float64Array(g.events.length));
    const views = groups.map((g) => new Array<View>(g.events.length));
    const pools = new Map<ModelReference, Float32Array>();
    const x = new Float32Array(c.dim);

    for (const { g, i, e } of eventTimeOrder(groups)) {
      const state = groups[g].state;
      const ref = ctx.aggregate<ModelReference>(entityName('model:', e.model_id), () => this.createReference());
      this.advance(ref, e.ts, pools);
      const dim = Math.min(c.dim, e.input_sketch.length);
      if (dim >= 2 && this.sketch(e, dim, x)) {
        if (ref.dim === 0) ref.dim = dim;
        if (ref.dim === dim) {
          const ready = ref.samples >= c.reference.minSamples && ref.threshold > 0;
          if (!continuesStraight(state, x, dim, c)) {
            if (!ready) this.hold(state, x, dim, e.model_id);
            else {
              if (state.backlog) this.judgeBacklog(state, ref, dim, e.model_id);
              this.judge(state, ref, x, 0, false);
            }
          }
          if (this.mayFeed(state, ready) && takeQuota(state.quota, e.ts, c.reference.epochMs, c.reference.perKeyEpochCap)) {
            this.feed(ref, pools, x, dim, e);
          }
        }
      }
      if (c.automated.enabled) addArrival((state.gaps ??= createGapStats()), e.ts, c.automated.gapWindow);
      state.score = this.score(state);
      scores[g][i] = state.score;
      // Views are shared between events until something they quote changes.
      const before = i > 0 ? views[g][i - 1] : undefined;
      const same = before && before.model === e.model_id && before.threshold === ref.threshold && before.score === state.score && before.share.n === state.share.n;
      views[g][i] = same ? before : this.view(state, ref, e.model_id);
    }
    for (const [ref, pool] of pools) ref.pool = packArray(pool.subarray(0, ref.poolN * ref.dim));
    return groups.map((grp, g) => {
      const explain = (i: number) => this.evidence(views[g][i]);
      return { scores: scores[g], evidence: grp.events.length ? explain(grp.events.length - 1) : [], explain };
    });
  }

  private createReference(): ModelReference {
    return { dim: 0, rows: '', n: 0, samples: 0, threshold: 0, epoch: -1, pool: '', poolN: 0, poolSeen: 0 };
  }

  private sketch(e: InferenceEvent, dim: number, x: Float32Array): boolean {
    for (let j = 0; j < dim; j++) {
      const v = e.input_sketch[j];
      if (!Number.isFinite(v)) return false;
      x[j] = v;
    }
    return true;
  }

  private decode(ref: ModelReference): { rows: string; data: Float32Array; index?: ProjectionIndex } {
    const hit = this.decoded.get(ref);
    if (hit && hit.rows === ref.rows) return hit;
    const fresh = { rows: ref.rows, data: unpackFloat32(ref.rows, ref.n * ref.dim) };
    this.decoded.set(ref, fresh);
    return fresh;
  }

  private rows(ref: ModelReference): Float32Array {
    return this.decode(ref).data;
  }

  /** The reference rows sorted for nearest-neighbour questions (the same answers as a full scan). */
  private index(ref: ModelReference): ProjectionIndex {
    const d = this.decode(ref);
    return (d.index ??= new ProjectionIndex(d.data, ref.n, ref.dim));
  }

  private pool(ref: ModelReference, pools: Map<ModelReference, Float32Array>): Float32Array {
    let pool = pools.get(ref);
    if (!pool) pools.set(ref, (pool = unpackFloat32(ref.pool, this.config.reference.size * Math.max(ref.dim, 1))));
    return pool;
  }

  /** Keeps a query made while the model's reference warms up (the newest `backlog` of them). */
  private hold(state: OffManifoldState, x: Float32Array, dim: number, model: string): void {
    const cap = this.config.backlog;
    if (cap === 0) return;
    const held = state.backlog && state.backlogModel === model ? unpackFloat32(state.backlog) : new Float32Array(0);
    state.backlog = appendRow(held, x, 0, dim, cap);
    state.backlogModel = model;
  }

  /**
   * Judges the held queries against the reference that now exists, oldest first, and forgets them. They
   * may have fed that reference themselves while it warmed up, so each is judged leave-one-out, as the
   * reference's own members are when its threshold is set.
   */
  private judgeBacklog(state: OffManifoldState, ref: ModelReference, dim: number, model: string): void {
    if (state.backlogModel === model) {
      const held = unpackFloat32(state.backlog ?? '');
      for (let k = 0; k + dim <= held.length; k += dim) this.judge(state, ref, held, k, true);
    }
    state.backlog = '';
    state.backlogModel = '';
  }

  /** Adds one query (row `xo` of `x`) to the key's shares; `leaveOut` when it may be a member of the reference. */
  private judge(state: OffManifoldState, ref: ModelReference, x: ArrayLike<number>, xo: number, leaveOut: boolean): void {
    const c = this.config;
    const index = this.index(ref);
    const off = index.fartherThan(x, ref.threshold, leaveOut, xo);
    addToShare(state.share, this.newPlace(state, off, x, xo, ref.dim, ref.threshold), 1 - c.quantile, c.window);
    if (c.automated.enabled && ref.loose !== undefined) {
      addToShare((state.looseShare ??= createShare()), off || index.fartherThan(x, ref.loose, leaveOut, xo), 1 - c.automated.quantile, c.window);
    }
  }

  /**
   * Whether an off-manifold query lies in a new place for the key: farther than the threshold from each of
   * its last `places` off-manifold queries, which it joins either way.
   */
  private newPlace(state: OffManifoldState, off: boolean, x: ArrayLike<number>, xo: number, dim: number, threshold: number): boolean {
    const cap = this.config.places;
    if (!off || cap === 0) return off;
    const ring = state.offRing ? unpackFloat32(state.offRing) : new Float32Array(0);
    const r2 = threshold * threshold;
    let fresh = true;
    for (let k = 0; k + dim <= ring.length; k += dim) {
      if (squaredDistance(ring, k, x, xo, dim) <= r2) {
        fresh = false;
        break;
      }
    }
    state.offRing = appendRow(ring, x, xo, dim, cap);
    return fresh;
  }

  private mayFeed(state: OffManifoldState, ready: boolean): boolean {
    const r = this.config.reference;
    if (state.score >= r.excludeAboveScore) return false;
    if (!ready) return true;
    // A key leaning off the manifold on either test (however it is paced) does not shape the reference.
    const loose = state.looseShare ? shareExcessZ(state.looseShare, this.config.window) : -Infinity;
    return state.share.n >= r.probationEvents && Math.max(shareExcessZ(state.share, this.config.window), loose) < r.leanZ;
  }

  /** Reservoir sampling (Vitter 1985, Algorithm R) of the epoch's fed sketches. */
  private feed(ref: ModelReference, pools: Map<ModelReference, Float32Array>, x: Float32Array, dim: number, e: InferenceEvent): void {
    const size = this.config.reference.size;
    const pool = this.pool(ref, pools);
    ref.poolSeen++;
    if (ref.poolN < size) {
      pool.set(x.subarray(0, dim), ref.poolN * dim);
      ref.poolN++;
      return;
    }
    const j = Math.floor(draw(e.input_hash.readUInt32LE(0), ref.poolSeen) * ref.poolSeen);
    if (j < size) pool.set(x.subarray(0, dim), j * dim);
  }

  /** Moves the reference to the epoch of `ts`, folding the finished epoch's sample in. */
  private advance(ref: ModelReference, ts: number, pools: Map<ModelReference, Float32Array>): void {
    const r = this.config.reference;
    const epoch = Math.floor(ts / r.epochMs);
    if (ref.epoch < 0) ref.epoch = epoch;
    if (epoch <= ref.epoch) return;
    ref.epoch = epoch;
    if (ref.poolSeen < r.minEpochSamples || ref.dim === 0) return; // too thin: keep sampling into the next epoch
    const dim = ref.dim;
    const pool = this.pool(ref, pools);
    const old = this.rows(ref);
    const prior = this.neighbours.get(ref, ref.rows, () => ({ sq: new Float64Array(0), nn: new Int32Array(0) }), (p) => p.sq.length === ref.n);
    const changed = new Uint8Array(r.size);
    const rows = new Float32Array(r.size * dim);
    rows.set(old.subarray(0, ref.n * dim));
    let n = ref.n;
    // Warming up, the sample fills the free rows; after that it replaces a share `alpha` of the members.
    const replace = Math.min(ref.poolN, n < r.size ? r.size - n : Math.max(1, Math.round(r.alpha * r.size)));
    const order = Array.from({ length: ref.poolN }, (_, k) => k);
    for (let k = 0; k < replace; k++) {
      // A partial Fisher–Yates shuffle: `replace` distinct members of the epoch's sample.
      const pick = k + Math.floor(draw(epoch, 2 * k) * (ref.poolN - k));
      [order[k], order[pick]] = [order[pick], order[k]];
      const from = order[k];
      const to = n < r.size ? n++ : Math.floor(draw(epoch, 2 * k + 1) * n);
      rows.set(pool.subarray(from * dim, from * dim + dim), to * dim);
      changed[to] = 1;
    }
    ref.samples = (1 - r.alpha) * ref.samples + ref.poolSeen;
    // Trim isolated members, then the threshold from the rest.
    const near = leaveOneOut(rows, n, dim, changed, prior);
    const loo = near.sq.map(Math.sqrt);
    const sorted = Float64Array.from(loo).sort();
    const cut = r.trim * quantile(sorted, 0.5);
    let kept = 0;
    const keptAt = new Int32Array(n).fill(-1);
    for (let i = 0; i < n; i++) {
      if (!(loo[i] <= cut)) continue;
      if (kept !== i) rows.copyWithin(kept * dim, i * dim, i * dim + dim);
      keptAt[i] = kept++;
    }
    const keptLoo = Float64Array.from(loo.filter((d) => d <= cut)).sort();
    ref.threshold = quantile(keptLoo, this.config.quantile);
    if (this.config.automated.enabled) ref.loose = Math.min(ref.threshold, quantile(keptLoo, this.config.automated.quantile));
    ref.n = kept;
    ref.rows = packArray(rows.subarray(0, kept * dim));
    // The kept members' neighbours for the next fold; one whose nearest was trimmed gets −1 (scanned in full then).
    const next: Neighbours = { sq: new Float64Array(kept), nn: new Int32Array(kept) };
    for (let i = 0; i < n; i++) {
      if (keptAt[i] < 0) continue;
      next.sq[keptAt[i]] = near.sq[i];
      next.nn[keptAt[i]] = near.nn[i] >= 0 ? keptAt[near.nn[i]] : -1;
    }
    this.neighbours.set(ref, ref.rows, next);
    ref.poolN = 0;
    ref.poolSeen = 0;
    pools.delete(ref);
    ref.pool = '';
  }

  private score(state: OffManifoldState): number {
    const strict = this.shareScore(state.share);
    const a = this.config.automated;
    if (!a.enabled || !state.looseShare || !state.gaps || state.gaps.n < a.minGaps) return strict;
    return Math.max(strict, this.shareScore(state.looseShare) * this.pacing(state.gaps));
  }

  /** 1 for metronomic calls, 0 for human ones (`automated.cvMetronomic` … `cvHuman`). */
  private pacing(g: GapStats): number {
    const a = this.config.automated;
    return 1 - ramp(gapCv(g), a.cvMetronomic, a.cvHuman);
  }

  private shareScore(sh: EwShare): number {
    const c = this.config;
    if (sh.n < c.minEvents) return 0;
    return Math.min(ramp(shareExcess(sh), c.excessLow, c.excessHigh), ramp(shareExcessZ(sh, c.window), c.zLow, c.zHigh));
  }

  private view(state: OffManifoldState, ref: ModelReference, model: string): View {
    const v: View = { model, threshold: ref.threshold, score: state.score, share: { ...state.share } };
    if (state.looseShare && state.gaps && ref.loose !== undefined && state.score > this.shareScore(state.share)) {
      v.loose = { share: { ...state.looseShare }, threshold: ref.loose, cv: gapCv(state.gaps) };
    }
    return v;
  }

  private evidence(v: View): string[] {
    if (!(v.score > 0)) return [];
    const sh = v.share;
    if (v.loose) {
      const l = v.loose.share;
      return [
        `${pct(l.s)} of recent queries (window ${this.config.window}, ${l.n} seen) lie off model ${v.model}'s traffic ` +
          `(nearest reference sketch farther than ${fmt(v.loose.threshold, 3)}, the ${pct(this.config.automated.quantile)} quantile of its own), ` +
          `against ${pct(l.e, 1)} expected (z=${fmt(shareExcessZ(l, this.config.window), 1)}), from machine-paced calls (inter-arrival CV ${fmt(v.loose.cv)})`,
      ];
    }
    return [
      `${pct(sh.s)} of recent queries (window ${this.config.window}, ${sh.n} seen) lie off model ${v.model}'s traffic ` +
        `(nearest reference sketch farther than ${fmt(v.threshold, 3)}, the ${pct(this.config.quantile)} quantile of its own), ` +
        `against ${pct(sh.e, 1)} expected (z=${fmt(shareExcessZ(sh, this.config.window), 1)})`,
    ];
  }
}

export const offManifold: DetectorDefinition<OffManifoldConfig, OffManifoldState> = {
  name: 'off-manifold',
  description: 'share of a key\'s queries whose nearest neighbour in the model\'s reference traffic is unusually far (k-NN out-of-distribution score)',
  configSchema: offManifoldConfigSchema,
  create: (config) => new OffManifoldDetector(config),
};
