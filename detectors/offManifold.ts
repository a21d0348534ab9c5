import { z } from 'zod';
import type { MinorDirections } from '../src/baselines/minorDirections.ts';
import type { ModelReference } from '../src/baselines/ModelReference.ts';
import { appendRow, unpackFloat32 } from '../src/compute/packedVectors.ts';
import { type BatchWalk, eventTimeOrder, perGroup } from './shared/batch.ts';
import { addToShare, createShare, type EwShare, shareExcess, shareExcessLowerBound, shareExcessZ } from './shared/EwShare.ts';
import { BatchStraightRuns } from './shared/StraightRun.ts';
import { addArrival, createGapStats, type GapStats, gapCv, machinePacedNote, pacingFields, pacingWeight } from './shared/GapStats.ts';
import { fmt, pct, ramp } from './shared/math.ts';
import type { InferenceEvent } from '../src/contract.ts';
import type { Detector, DetectorContext, DetectorDefinition, DetectorOutput, KeyGroup } from './types.ts';
import { squaredDistance } from '../src/compute/squaredDistance.ts';
import { referenceHash } from '../src/baselines/referenceHash.ts';
import { DOUBLE_ZERO } from '../src/state/doubleZero.ts';

const int = () => z.number().int();
const unit = () => z.number().min(0).max(1);

export const offManifoldConfigSchema = z.object({
  /**
   * A key whose own off-manifold share (on either test) is this many standard errors above the expected,
   * its score still low, leans off the manifold: the model reference's gate keeps its queries out.
   */
  leanZ: z.number().default(2),
  /** A query is off the manifold when its nearest reference member is farther than this quantile of the members' own nearest-member distances. */
  quantile: z.number().gt(0).lt(1).default(0.99),
  /**
   * A second, looser test that counts only for machine-paced keys: the share of queries beyond the
   * `quantile` quantile (0.95), scored like the main share and scaled by how metronomic the key's calls
   * are (coefficient of variation of its inter-arrival gaps, read from their log spread so that pauses between rounds do not hide a script (`GapStats`): full weight at `cvMetronomic`, none from
   * `cvHuman`, after `minGaps` gaps; the CV is judged at its upper bound `paceZ` standard errors up, so
   * a short-lived key counts as machine-paced only when its few gaps already show it surely). Natural data from a neighbouring distribution — Knockoff Nets' and
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
      ...pacingFields,
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
  /**
   * A second test of each query, in all the sketch coordinates the reference keeps (`reference.width`): it
   * is off the manifold also when its energy along the directions in which the model's traffic varies
   * least — beyond the principal directions that carry the first `span` of the members' variance, each
   * whitened by its variance — exceeds the same `quantile` of the members' own (`src/baselines/minorDirections.ts`).
   * The nearest-neighbour test compares only the first `reference.dim` coordinates, and where the raw
   * inputs have more dimensions than the sketch those hold no room off the data: a Jacobian augmentation
   * step of λ in every raw feature lands among natural queries there, yet adds as much variance along
   * the traffic's minor directions as along its major ones, many times the traffic's own. Scored as a
   * share of its own, like the main test's (places and all); the key's score is the higher. Only where the
   * members fill the first `reference.dim` coordinates (their rank is at least that): where they do not, the
   * nearest-neighbour test has room off the data and this one would only add a coarser view of it.
   */
  minor: z
    .object({
      enabled: z.boolean().default(true),
      span: z.number().gt(0).lt(1).default(0.9),
      /**
       * An off query counts in a new place when it lies farther than this share of the off radius from each
       * of the key's last `places` off queries, along the minor directions: a person re-asking about the same
       * unusual records, or a neighbouring one, repeats a place; a synthetic step from a real record, whose
       * offset spreads over all the minor directions, seldom comes that close to another.
       */
      placeRadius: z.number().min(0).max(1).default(0.5),
      /**
       * Measure a query's energy from the mean of all the key's own earlier queries instead of the traffic's
       * mean (scaled by the variance that mean adds): a user of a shifted segment, or from elsewhere, asks
       * about inputs that all sit off the traffic by the same offset, which leaves the key's own spread
       * along the minor directions natural; a synthetic step's offset changes sign with each record and
       * feature, so it stays many times the traffic's spread about any mean.
       */
      ownMean: z.boolean().default(true),
      /**
       * Quantile of the members' energies past which a query counts as off on this test; null: the detector's
       * `quantile`. Lower than the main test's: the tail of the minor directions is read with each owner
       * capped at the gate's `tailShare` of it, so a lower quantile stays an honest traffic's tail while a
       * key stepping off the manifold a little at a time (Jacobian augmentation) crosses it sooner.
       */
      quantile: z.number().gt(0).lt(1).nullable().default(0.95),
      /**
       * Effective window (queries) of the key's share on this test: shorter than the main test's, since
       * augmentation starts after a seed set of real records whose misses a long window would keep.
       */
      window: int().positive().default(64),
    })
    .strict()
    .prefault({}),
  /** Effective window (queries) of the key's off-manifold share. */
  window: int().positive().default(200),
  /** Scored queries a key needs before its share counts at its estimate. */
  minEvents: int().positive().default(50),
  /**
   * From this many scored queries (up to `minEvents`) the share already counts, at the lower end of its
   * Wilson interval at `zLow` standard errors: a short-lived key whose queries nearly all lie off the
   * manifold — one of many throwaway keys sending a few dozen random queries each — is judged on what it
   * surely did, while a key with a few unusual queries among its first ones scores nothing yet. Only for
   * a key whose queries scatter: once more than `earlyMaxStraight` of them continued a straight run, the
   * key sweeps, its scored queries are mostly the ends of its sweeps (a what-if analyst's may lie beyond
   * the data), and it waits for `minEvents` like any other. `minEvents` or more disables it.
   */
  earlyEvents: int().positive().default(16),
  earlyMaxStraight: unit().default(0.25),
  /** Excess share (s − p₀)/(1 − p₀) where the score starts and where it is full. */
  excessLow: unit().default(0.15),
  excessHigh: unit().default(0.4),
  /** Binomial z-score of the excess where the score starts and where it is full. */
  zLow: z.number().default(3),
  zHigh: z.number().default(6),
});
export type OffManifoldConfig = z.output<typeof offManifoldConfigSchema>;

/**
 * Per-key state, its sketches live in Float32Arrays (encoded only when a snapshot is written or the key
 * is packed; older snapshots hold them as base64, read too): two shares, the gap statistics, the last
 * score, the last sketch and step (2 × dim float32) and up to `places` off-manifold sketches (places × dim
 * float32, 512 bytes at the defaults): under 1.2 kB as a snapshot section; a key whose queries leave along
 * the model's minor directions also keeps that share, up to `places` of those sketches (places ×
 * reference width float32, 1 kB at the defaults) and the mean of its queries (one more such sketch);
 * while the model's reference warms up, also up to `backlog` held sketches (backlog × dim float32, 1.6 kB
 * at the defaults), dropped once judged.
 */
export interface OffManifoldState {
  share: EwShare;
  /** The key's last `places` off-manifold sketch prefixes (float32 rows); absent in older snapshots. */
  offRing?: Float32Array | string;
  /** The share beyond the looser threshold, and the key's inter-arrival gaps (the `automated` test); absent in older snapshots. */
  looseShare?: EwShare;
  gaps?: GapStats;
  score: number;
  /** The share on the minor-direction test and its last `places` off-manifold sketch prefixes; absent in older snapshots. */
  minorShare?: EwShare;
  minorRing?: Float32Array | string;
  /** The mean of the key's queries on the minor-direction test (reference width float32) and how many it holds; absent in older snapshots. */
  minorMean?: Float32Array | string;
  minorSeen?: number;
  /** The straight run (`StraightRunState`: the last sketch prefix and its step in one vector, null when none); older snapshots hold `last` and `step` apart instead. */
  run?: Float32Array | null;
  last?: Float32Array | string | null;
  step?: Float32Array | string | null;
  /** Queries held while the model's reference warmed up (float32 rows) and that model; absent in older snapshots. */
  backlog?: Float32Array | string;
  backlogModel?: string;
  /** Queries with a readable sketch, straight continuations included; absent in older snapshots. */
  seen?: number;
}

/** What the evidence quotes, as of one event: the model, its threshold, the key's score and share. */
/** What `step` reads and writes of one batch (see `BatchWalk`). */
interface OffManifoldWalk extends BatchWalk<OffManifoldState> {
  keepOut: Uint8Array[];
  views: View[][];
  refs: Map<string, ModelReference | null>;
  owners: Uint32Array;
  /** The query's sketch as the reference reads it (scratch). */
  x: Float32Array;
  runs: BatchStraightRuns;
}

interface View {
  model: string;
  threshold: number;
  score: number;
  share: EwShare;
  /** When the minor-direction test gave the score: its share, threshold and directions. */
  minor?: { share: EwShare; threshold: number; count: number; variance: number; width: number };
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
 * neighbour in the model's reference is farther than the `quantile` of the
 * members' own nearest-member distances, so a natural query is off with probability ≈ 1 − quantile.
 * The key's share of such queries is tested against that rate (excess and
 * binomial z, like `boundary-probing`).
 *
 * The reference is the model's shared one (`ctx.reference`, see
 * `src/baselines`): fed through one gate (long-lived, unflagged keys, capped
 * per key, network and tenant), frozen within an event-time epoch, isolated
 * members trimmed at each fold. A key leaning off the manifold is reported
 * through `keepOut` so that the gate keeps it out before its score rises.
 * A what-if analyst's sweep leaves the
 * manifold only at the ends of a feature's range; a replayed test set and a
 * batch of real records stay on it.
 */
export class OffManifoldDetector implements Detector<OffManifoldState> {
  readonly name = 'off-manifold';
  readonly family = 'geometry' as const;
  readonly signature = true;
  /**
   * Each reference view's thresholds: the `quantile` and `automated.quantile` of its members' nearest-member
   * distances, and its minor directions (whose threshold depends on the asking key).
   */
  private readonly thresholds = new WeakMap<ModelReference, Thresholds>();
  /**
   * Within a batch, each holding key's backlog buffer (room for `backlog` rows): its `state.backlog` is a view
   * of the rows at the front, so that holding a query writes one row instead of copying the whole backlog.
   * Views are copied to exact arrays at the batch's end, so state between batches holds no spare room.
   */
  private readonly holding = new Map<OffManifoldState, Float32Array>();

  constructor(private readonly config: OffManifoldConfig) {}

  initState(): OffManifoldState {
    // Every field from the start, in one order (absent ones undefined, as older snapshots have them): one shape for every key.
    return {
      share: createShare(),
      offRing: undefined,
      looseShare: undefined,
      gaps: undefined,
      score: DOUBLE_ZERO,
      minorShare: undefined,
      minorRing: undefined,
      minorMean: undefined,
      minorSeen: undefined,
      run: null,
      backlog: undefined,
      backlogModel: undefined,
      seen: undefined,
    };
  }

  processBatch(groups: readonly KeyGroup<OffManifoldState>[], ctx: DetectorContext): DetectorOutput[] {
    const scores = perGroup(groups, (g) => new Float64Array(g.events.length));
    const keepOut = perGroup(groups, (g) => new Uint8Array(g.events.length));
    const views = perGroup(groups, (g) => new Array<View>(g.events.length));
    const refs = new Map<string, ModelReference | null>();
    const owners = Uint32Array.from(groups, (g) => referenceHash(g.key));
    const x = new Float32Array(64);
    for (const grp of groups) upgrade(grp.state);
    this.holding.clear();
    const runs = new BatchStraightRuns(perGroup(groups, (grp) => grp.state), this.config, perGroup(groups, (grp) => grp.events));

    const walk: OffManifoldWalk = { groups, ctx, scores, keepOut, views, refs, owners, x, runs };
    // One `step` call per event (see `BatchWalk`).
    const order = eventTimeOrder(groups);
    for (let o = 0; o < order.length; o++) this.step(walk, order[o].g, order[o].i, order[o].e);
    runs.save();
    this.settleHeld();
    return groups.map((grp, g) => {
      const explain = (i: number) => this.evidence(views[g][i]);
      return { scores: scores[g], evidence: grp.events.length ? explain(grp.events.length - 1) : [], explain, keepOut: keepOut[g] };
    });
  }

  /** One event of the batch, in event time across keys (`processBatch`'s step). */
  private step(w: OffManifoldWalk, g: number, i: number, e: InferenceEvent): void {
    const c = this.config;
    const { groups, ctx, scores, keepOut, views, refs, owners, x, runs } = w;
    const state = groups[g].state;
    let ref = refs.get(e.model_id);
    if (ref === undefined) refs.set(e.model_id, (ref = ctx.reference(e.model_id)));
    const dim = ref ? ref.queryDim(e.input_sketch) : 0;
    let threshold = 0;
    if (ref && dim >= 2 && ref.readSketch(e.input_sketch, x)) {
      state.seen = Math.min((state.seen ?? 0) + 1, 1e9);
      const ready = ref.ready && ref.dim === dim;
      if (!runs.continuesPrefix(g, x, dim)) {
        if (!ready) this.hold(state, x, dim, e.model_id);
        else {
          const t = this.thresholdsOf(ref);
          threshold = t.strict;
          if (state.backlog) this.judgeBacklog(state, ref, t, dim, e.model_id);
          this.judge(state, ref, t, x, 0, false);
          this.judgeMinor(state, t, e.input_sketch, owners[g]);
        }
      } else if (ready) threshold = this.thresholdsOf(ref).strict;
    }
    if (c.automated.enabled) addArrival((state.gaps ??= createGapStats()), e.ts, c.automated.gapWindow);
    state.score = this.score(state);
    scores[g][i] = state.score;
    keepOut[g][i] = this.leans(state) ? 1 : 0;
    // Views are shared between events until something they quote changes.
    const before = i > 0 ? views[g][i - 1] : undefined;
    const same =
      before && before.model === e.model_id && before.threshold === threshold && before.score === state.score && before.share.n === state.share.n && (before.minor?.share.n ?? -1) === (state.minorShare?.n ?? -1);
    views[g][i] = same ? before : this.view(state, ref && ref.ready ? this.thresholdsOf(ref) : null, e.model_id, owners[g]);
  }

  private thresholdsOf(ref: ModelReference): Thresholds {
    let t = this.thresholds.get(ref);
    if (!t) {
      const c = this.config;
      const strict = ref.quantile(c.quantile);
      const found = c.minor.enabled ? ref.minor(c.minor.span) : null;
      const minor = found && found.rank >= ref.dim ? found : null;
      t = { strict, loose: Math.min(strict, ref.quantile(c.automated.quantile)), minor };
      this.thresholds.set(ref, t);
    }
    return t;
  }

  /** Keeps a query made while the model's reference warms up (the newest `backlog` of them). */
  private hold(state: OffManifoldState, x: Float32Array, dim: number, model: string): void {
    const cap = this.config.backlog;
    if (cap === 0) return;
    const held = state.backlog && state.backlogModel === model ? (state.backlog as Float32Array) : NO_ROWS;
    const rows = held.length % dim === 0 ? held : NO_ROWS;
    const buffer = this.holding.get(state);
    const n = rows.length / dim;
    if (buffer && rows.buffer === buffer.buffer && rows.byteOffset === 0 && buffer.length === cap * dim && n <= cap) {
      // The rows this batch built: the newest `cap - 1` of them stay where they are (shifted when full), the query follows.
      if (n === cap) buffer.copyWithin(0, dim, cap * dim);
      const at = Math.min(n, cap - 1) * dim;
      for (let j = 0; j < dim; j++) buffer[at + j] = x[j];
      state.backlog = buffer.subarray(0, at + dim);
    } else {
      const keep = Math.min(n, cap - 1);
      const fresh = new Float32Array(cap * dim);
      fresh.set(rows.subarray(rows.length - keep * dim));
      for (let j = 0; j < dim; j++) fresh[keep * dim + j] = x[j];
      this.holding.set(state, fresh);
      state.backlog = fresh.subarray(0, (keep + 1) * dim);
    }
    state.backlogModel = model;
  }

  /** Each backlog held in this batch as an array of its own rows (the buffer's spare room is not kept). */
  private settleHeld(): void {
    for (const [state, buffer] of this.holding) {
      const rows = state.backlog;
      if (rows instanceof Float32Array && rows.buffer === buffer.buffer) state.backlog = rows.slice();
    }
    this.holding.clear();
  }

  /**
   * Judges the held queries against the reference that now exists, oldest first, and forgets them. They
   * may have fed that reference themselves while it warmed up, so each is judged leaving itself out, as
   * the reference's own members are when its thresholds are set.
   */
  private judgeBacklog(state: OffManifoldState, ref: ModelReference, t: Thresholds, dim: number, model: string): void {
    if (state.backlogModel === model) {
      const held = (state.backlog as Float32Array | undefined) ?? NO_ROWS;
      if (held.length % dim === 0) for (let k = 0; k + dim <= held.length; k += dim) this.judge(state, ref, t, held, k, true);
    }
    state.backlog = undefined;
    state.backlogModel = '';
  }

  /** Adds one query (row `xo` of `x`) to the key's shares; `leaveOut` when it may be a member of the reference. */
  private judge(state: OffManifoldState, ref: ModelReference, t: Thresholds, x: ArrayLike<number>, xo: number, leaveOut: boolean): void {
    const c = this.config;
    const off = ref.fartherThan(x, t.strict, leaveOut, xo);
    addToShare(state.share, this.newPlace(state, off, x, xo, ref.dim, t.strict), 1 - c.quantile, c.window);
    if (c.automated.enabled) {
      addToShare((state.looseShare ??= createShare()), off || ref.fartherThan(x, t.loose, leaveOut, xo), 1 - c.automated.quantile, c.window);
    }
  }

  /**
   * Adds one query to the key's share on the minor-direction test: its energy along the model's minor
   * directions (all the sketch coordinates the reference keeps) against the members' `quantile`, counted
   * in a new place only, like the main test's, places measured along the minor directions (the offsets of
   * a synthetic step spread there; a person re-asking about the same unusual records does not).
   */
  private judgeMinor(state: OffManifoldState, t: Thresholds, sketch: readonly number[], owner: number): void {
    const minor = t.minor;
    if (!minor) return;
    const global = minor.energy(sketch);
    if (Number.isNaN(global)) return;
    const energy = this.config.minor.ownMean ? this.ownEnergy(state, minor, sketch, global) : global;
    const q = this.minorQuantile();
    const threshold = minor.quantileWithout(q, owner);
    if (Number.isNaN(threshold)) return;
    let hit = energy > threshold;
    const cap = this.config.places;
    const near = this.config.minor.placeRadius ** 2 * threshold;
    if (hit && cap > 0) {
      // A new place: apart from each of the last `places` such queries by more than `placeRadius` of the off radius, along the minor directions.
      const w = minor.width;
      const held = (state.minorRing as Float32Array | undefined) ?? NO_ROWS;
      const ring = held.length % w === 0 ? held : NO_ROWS;
      for (let k = 0; k + w <= ring.length && hit; k += w) if (minor.apart(sketch, 0, ring, k) <= near) hit = false;
      state.minorRing = appendRow(ring, sketch, 0, w, cap);
    }
    addToShare((state.minorShare ??= createShare()), hit, 1 - q, this.config.minor.window);
  }

  private minorQuantile(): number {
    return this.config.minor.quantile ?? this.config.quantile;
  }

  /**
   * The query's energy along the minor directions about the mean of all the key's earlier queries on this
   * test (`global`, about the traffic's mean, for its first), divided by 1 + 1/k for the mean of k queries:
   * for queries drawn alike, the same expectation as a member's energy. The whole history, not a recent
   * window: augmentation rounds move a set of synthetic queries one way, which a recent mean would follow.
   * Folds the query into the mean.
   */
  private ownEnergy(state: OffManifoldState, minor: MinorDirections, sketch: readonly number[], global: number): number {
    const w = minor.width;
    const held = (state.minorMean as Float32Array | undefined) ?? null;
    const seen = held && held.length === w ? (state.minorSeen ?? 0) : 0;
    const mean = seen > 0 ? held! : new Float32Array(w);
    const energy = seen > 0 ? minor.apart(sketch, 0, mean, 0) / (1 + 1 / seen) : global;
    // In place: the key's own array, never shared (see `KeyGroup`).
    for (let j = 0; j < w; j++) mean[j] += (sketch[j] - mean[j]) / (seen + 1);
    state.minorMean = mean;
    state.minorSeen = seen + 1;
    return energy;
  }

  /**
   * Whether an off-manifold query lies in a new place for the key: farther than the threshold from each of
   * its last `places` off-manifold queries, which it joins either way.
   */
  private newPlace(state: OffManifoldState, off: boolean, x: ArrayLike<number>, xo: number, dim: number, threshold: number): boolean {
    const cap = this.config.places;
    if (!off || cap === 0) return off;
    const ring = (state.offRing as Float32Array | undefined) ?? NO_ROWS;
    const r2 = threshold * threshold;
    let fresh = true;
    for (let k = 0; k + dim <= ring.length; k += dim) {
      if (squaredDistance(ring, k, x, xo, dim) <= r2) {
        fresh = false;
        break;
      }
    }
    state.offRing = appendRow(ring.length % dim === 0 ? ring : NO_ROWS, x, xo, dim, cap);
    return fresh;
  }

  /** A key leaning off the manifold on either test (however it is paced), its score still low: kept out of the reference. */
  private leans(state: OffManifoldState): boolean {
    if (state.share.n === 0) return false;
    const w = this.config.window;
    const loose = state.looseShare ? shareExcessZ(state.looseShare, w) : -Infinity;
    return Math.max(shareExcessZ(state.share, w), loose) >= this.config.leanZ;
  }

  private score(state: OffManifoldState): number {
    const strict = Math.max(this.shareScore(state.share, state), this.minorScore(state));
    const a = this.config.automated;
    if (!a.enabled || !state.looseShare) return strict;
    return Math.max(strict, this.shareScore(state.looseShare, state) * pacingWeight(state.gaps, a));
  }

  private minorScore(state: OffManifoldState): number {
    return state.minorShare ? this.shareScore(state.minorShare, state, this.config.minor.window) : 0;
  }

  private shareScore(sh: EwShare, state: OffManifoldState, window = this.config.window): number {
    const c = this.config;
    if (sh.n >= c.minEvents) return this.excessScore(sh, shareExcess(sh), window);
    const scatters = sh.n >= c.earlyEvents && sh.n >= (1 - c.earlyMaxStraight) * (state.seen ?? Infinity);
    return scatters ? this.excessScore(sh, shareExcessLowerBound(sh, window, c.zLow), window) : 0;
  }

  private excessScore(sh: EwShare, excess: number, window: number): number {
    const c = this.config;
    return Math.min(ramp(excess, c.excessLow, c.excessHigh), ramp(shareExcessZ(sh, window), c.zLow, c.zHigh));
  }

  /** What the evidence quotes; `owner` (the key's `referenceHash`) for the minor test's threshold, which leaves the key's own members out. */
  private view(state: OffManifoldState, t: Thresholds | null, model: string, owner: number): View {
    const v: View = { model, threshold: t?.strict ?? 0, score: state.score, share: { ...state.share } };
    const main = this.shareScore(state.share, state);
    const minor = this.minorScore(state);
    if (t && t.minor && state.minorShare && minor > main && state.score <= minor) {
      const threshold = t.minor.quantileWithout(this.minorQuantile(), owner);
      v.minor = { share: { ...state.minorShare }, threshold, count: t.minor.count, variance: t.minor.share, width: t.minor.width };
      return v;
    }
    if (t && state.looseShare && state.gaps && this.config.automated.enabled && state.score > this.shareScore(state.share, state)) {
      v.loose = { share: { ...state.looseShare }, threshold: t.loose, cv: gapCv(state.gaps) };
    }
    return v;
  }

  private evidence(v: View): string[] {
    if (!(v.score > 0)) return [];
    const sh = v.share;
    if (v.minor) {
      const m = v.minor;
      return [
        `${pct(m.share.s)} of recent queries (window ${this.config.minor.window}, ${m.share.n} seen) lie off model ${v.model}'s traffic ` +
          `along the ${m.count} direction${m.count === 1 ? '' : 's'} in which it varies least (${pct(m.variance, 1)} of its variance over ${m.width} sketch coordinates; ` +
          `whitened energy above ${Number.isFinite(m.threshold) ? `${fmt(m.threshold, 2)}, ` : ''}the ${pct(this.minorQuantile())} quantile of its own), ` +
          `against ${pct(m.share.e, 1)} expected (z=${fmt(shareExcessZ(m.share, this.config.minor.window), 1)})`,
      ];
    }
    if (v.loose) {
      const l = v.loose.share;
      return [
        `${pct(l.s)} of recent queries (window ${this.config.window}, ${l.n} seen) lie off model ${v.model}'s traffic ` +
          `(nearest reference sketch farther than ${fmt(v.loose.threshold, 3)}, the ${pct(this.config.automated.quantile)} quantile of its own), ` +
          `against ${pct(l.e, 1)} expected (z=${fmt(shareExcessZ(l, this.config.window), 1)}), ${machinePacedNote(v.loose.cv)}`,
      ];
    }
    return [
      `${pct(sh.s)} of recent queries (window ${this.config.window}, ${sh.n} seen) lie off model ${v.model}'s traffic ` +
        `(nearest reference sketch farther than ${fmt(v.threshold, 3)}, the ${pct(this.config.quantile)} quantile of its own), ` +
        `against ${pct(sh.e, 1)} expected (z=${fmt(shareExcessZ(sh, this.config.window), 1)})`,
    ];
  }
}

/** No rows (shared: rows are replaced when they grow, never written in place). */
const NO_ROWS = new Float32Array(0);

/**
 * A state of the older snapshot form (base64 sketches, '' for none) in Float32Arrays, as the detector reads
 * them. The straight run's older `last` and `step` are left to `StraightCursor`, which reads every form.
 */
function upgrade(state: OffManifoldState): void {
  for (const k of ['offRing', 'minorRing', 'minorMean', 'backlog'] as const) {
    const v = state[k];
    if (typeof v === 'string') state[k] = v ? unpackFloat32(v) : undefined;
  }
}

/** A reference view's thresholds (`thresholdsOf`). */
interface Thresholds {
  strict: number;
  loose: number;
  minor: MinorDirections | null;
}

export const offManifold: DetectorDefinition<OffManifoldConfig, OffManifoldState> = {
  name: 'off-manifold',
  description: 'share of a key\'s queries whose nearest neighbour in the model\'s reference traffic is unusually far (k-NN out-of-distribution score)',
  configSchema: offManifoldConfigSchema,
  create: (config) => new OffManifoldDetector(config),
};
