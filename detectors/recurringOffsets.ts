import { z } from 'zod';
import { unpackFloat32 } from '../src/compute/packedVectors.ts';
import { squaredDistancesTo } from '../src/compute/squaredDistance.ts';
import type { ModelReference } from '../src/baselines/ModelReference.ts';
import { referenceHash } from '../src/baselines/referenceHash.ts';
import type { InferenceEvent } from '../src/contract.ts';
import { type BatchWalk, eventTimeOrder, perGroup } from './shared/batch.ts';
import { addToHistogram, advanceEpoch, createHistogram, createQuota, type EpochHistogram, type EpochQuota, histogramReady, takeQuota } from './shared/EpochHistogram.ts';
import { addToShare, createShare, type EwShare, shareExcessZ } from './shared/EwShare.ts';
import { entityName } from './shared/entityName.ts';
import { compact, fmt, pct } from './shared/math.ts';
import { lengthClass, LengthFilter, OffsetCounts, offsetId, offsetSquare, rowFingerprint } from './shared/OffsetTable.ts';
import { BatchStraightRuns } from './shared/StraightRun.ts';
import { baselineOptions, mayFeedBaseline, type Tail, type TailBaselineConfig, tailBaselineSchema } from './shared/TailBaseline.ts';
import { tailShareFields, tailShareScore } from './shared/TailShare.ts';
import type { Detector, DetectorContext, DetectorDefinition, DetectorOutput, KeyGroup } from './types.ts';
import { DOUBLE_ZERO } from '../src/state/doubleZero.ts';

const int = () => z.number().int();

export const recurringOffsetsConfigSchema = z.object({
  /** Sketch coordinates compared (a prefix of a random projection is itself one). */
  dim: int().min(2).max(64).default(8),
  /**
   * Earlier distinct queries each new one is compared with. Jacobian-based augmentation queries a round's
   * children after the whole previous set, so the first round's child–parent lag is the seed set's size:
   * Papernot et al. seed with 150 inputs (MNIST) and 100 (GTSRB); 256 covers seed sets up to that size.
   */
  history: int().min(8).max(1024).default(256),
  /** Queries evaluated together: their offsets are counted in one pass, and the score moves once per block. */
  block: int().min(2).max(256).default(16),
  /**
   * Offsets are compared by direction, each coordinate of the unit vector rounded to this quantum, and by
   * length class (a logarithmic grid of relative width 3e-5). The same step taken from two points agrees to
   * the sketch's float32 rounding (≈ 1e-7), so 1e-4 seldom splits it, while offsets between natural records
   * agree that closely only when the data sit on a grid (rounded tabular values).
   */
  quantum: z.number().positive().max(0.1).default(1e-4),
  /**
   * An offset recurs once this many distinct queries realised it. On rounded tabular data two pairs of real
   * records share an offset now and then (5% of a batch scorer's queries on the Seattle weather table of the
   * quality benchmark with 2); three never did there, while Jacobian sign patterns recur dozens of times.
   */
  minRealisations: int().min(2).max(8).default(3),
  /** Offsets seen in two or more queries of a block are remembered in this many slots (the weakest is replaced)… */
  slots: int().min(1).max(256).default(32),
  /** …with weights decayed over this many queries. */
  horizon: int().positive().default(1024),
  /**
   * A query that continues the key's previous step in a straight line is neither compared nor remembered,
   * and neither is the run's first step (the query before it): a what-if analyst's sweep takes the same step
   * again and again by design (grid-sweep's business), and two sweeps of one feature with the same number of
   * steps start with the same step. The same test as `off-manifold`'s.
   */
  straightCos: z.number().min(0).max(1).default(0.995),
  straightRatio: z.number().min(1).default(2.5),
  /**
   * A query is also a synthetic variant of the key's own — a near copy — when it lies closer to one of the key's
   * last m distinct queries than this fraction of the distance at which a sample of m queries of the model's
   * traffic (its shared reference) has its nearest one. Randomly perturbed copies of earlier queries (T-RND,
   * Juuti et al. 2019) and augmentation steps whose directions never repeat sit far closer to their parents
   * than natural records sit to each other, and natural sampling falls that close only by chance: for
   * exchangeable queries in d intrinsic dimensions, about ratio^d / (1 + ratio^d): at 0.15, 2.2% of a natural
   * key's queries in two dimensions (fewer in more), a fifth of where the share's ramp starts (`excessLow`).
   * 0 turns the test off.
   */
  nearCopyRatio: z.number().min(0).max(1).default(0.15),
  /** The model's share of queries at a recurring offset or near copies, learned online from all keys like the tail baselines. */
  baseline: tailBaselineSchema.unwrap().omit({ bins: true }).prefault({}),
  /** The expected share never counts as lower than this (continuous data gives a baseline of 0). */
  minExpected: z.number().gt(0).lt(1).default(0.01),
  /**
   * Window, minimum queries and score ramps of the key's share of queries at a recurring offset. A short
   * window: augmentation starts after a seed set of real records, whose misses a long one would keep.
   */
  ...tailShareFields,
  window: int().positive().default(64),
  minEvents: int().positive().default(32),
  excessLow: z.number().min(0).max(1).default(0.1),
  excessHigh: z.number().min(0).max(1).default(0.3),
});
export type RecurringOffsetsConfig = z.output<typeof recurringOffsetsConfigSchema>;

/** A remembered offset: its id and length class, the fingerprints of its first realisers, its decayed weight. */
interface KnownOffset {
  id: number;
  len: number;
  fps: number[];
  w: number;
}

/**
 * Per-key state, live in typed arrays (encoded only when a snapshot is
 * written or the key is packed). Ceiling: (history + block) × dim float32
 * rows (8.7 kB at the defaults), `slots` remembered offsets (≤ 75 bytes
 * each with three fingerprints, ≈ 2.4 kB), the last sketch and step for the
 * straight-run test (64 bytes) and a dozen numbers: under 12 kB as a
 * snapshot section whatever the key's history.
 */
export interface RecurringOffsetsState {
  /**
   * Recent distinct queries, oldest first: the first `n` rows of `dim` float32. Exactly `n` rows between
   * polls (during a poll, room for the poll's queries up to history + block rows, those past `n` spare).
   * Older states may hold (history + block) rows between polls; older snapshots, base64 of the `n` rows.
   */
  rows: Float32Array | string;
  n: number;
  dim: number;
  /** Rows at the end of `rows` not evaluated yet (the open block). */
  pending: number;
  /** Whether the newest row is the key's previous query (retracted if the query after it continues it in a straight line). */
  tail: boolean;
  offsets: KnownOffset[];
  share: EwShare;
  quota: EpochQuota;
  score: number;
  /** The straight run (`StraightRunState`: the last sketch prefix and its step in one vector, null when none); older snapshots hold `last` and `step` apart instead. */
  run?: Float32Array | null;
  last?: Float32Array | string | null;
  step?: Float32Array | string | null;
  /** The last block: queries at a recurring offset, and how many recurring offsets they used. */
  hits: number;
  recurring: number;
  /** The last block: queries that were near copies of the key's own (and at no recurring offset); absent in older snapshots. */
  copies?: number;
}

/** What the evidence quotes: the key's share and last block, as of one event. */
/** What `step` reads and writes of one batch (see `BatchWalk`). */
interface RecurringWalk extends BatchWalk<RecurringOffsetsState> {
  opts: ReturnType<typeof baselineOptions>;
  models: Map<string, EpochHistogram>;
  refs: Map<string, ModelReference | null>;
  views: View[][];
  /** The query's sketch prefix (scratch). */
  x: Float32Array;
  runs: BatchStraightRuns;
}

interface View {
  model: string;
  score: number;
  share: EwShare;
  hits: number;
  recurring: number;
  copies: number;
}

/**
 * Recurring offsets: queries that sit at the same offset from earlier
 * queries as other queries did.
 *
 * Papernot et al.'s Jacobian-based dataset augmentation ("Practical
 * Black-Box Attacks against Machine Learning", AsiaCCS 2017, Algorithm 1)
 * grows its substitute's training set by x + λ·sgn(J_F(x)[O(x)]): every
 * child steps λ in every input coordinate, so child − parent is one of 2^d
 * sign vectors, and a substitute's Jacobian signs are shared by many inputs
 * of a class, so the same few vectors recur over a round. The gateway's
 * sketch is a linear projection, so the offsets recur in sketch space
 * exactly (up to float32 rounding). The I-FGSM variant PRADA evaluates
 * (Juuti et al., EuroS&P 2019) steps the same way, and so do line searches
 * whose halvings repeat from search to search. Natural records never
 * realise one offset three times over; what-if sweeps do, but their
 * straight runs are not compared here.
 *
 * PRADA's T-RND perturbs each seed in a random direction, so its offsets
 * never recur; what gives it (and augmentation in many raw features, whose
 * sign patterns seldom repeat) away is how close each child lies to its
 * parent. A query also counts when it is a near copy of one of the key's
 * last m queries: closer to it than `nearCopyRatio` times the distance from
 * the query to the nearest of m queries of the model's traffic (a sample of
 * the shared reference, other keys' members). Both sides are nearest
 * neighbours among m queries, so a key that samples like the model's
 * traffic falls that close only by chance; exact repeats are not compared.
 *
 * Each block of `block` distinct queries is compared with the `history`
 * distinct queries before each; an offset's identity is its rounded
 * direction and length class (`offsetId`, after a cheap length pre-pass),
 * and it recurs once `minRealisations` distinct queries (by sketch
 * fingerprint, so a replayed test set does not re-realise its own offsets)
 * produced it, in this block or in earlier ones (offsets seen twice within a
 * block are remembered). The key's share of queries at a recurring offset is
 * tested against the model's share (excess and binomial z, like the tail
 * shares), which stays near zero for continuous data.
 *
 * Limits: a sketch that is not linear in the inputs (an embedding) does not
 * keep the steps' offsets, and on coarsely categorical inputs (a few values
 * per feature) real records share offsets all the time: there the chance rate
 * grows with a key's history faster than the model baseline follows, so such
 * a deployment should raise `minRealisations` or disable the detector.
 */
export class RecurringOffsetsDetector implements Detector<RecurringOffsetsState> {
  readonly name = 'recurring-offsets';
  readonly family = 'geometry' as const;
  readonly signature = true;
  /** The baseline's settings in the shape the shared tail-baseline helpers take (two bins: miss, hit). */
  private readonly baseline: TailBaselineConfig;
  /** Scratch for block evaluations (never state): the length filter, the offset table, each block pair's squared length and slot, slot flags. */
  private readonly lengths = new LengthFilter();
  private readonly table: OffsetCounts;
  private squares = new Float64Array(0);
  private slotOf = new Int32Array(0);
  private recurring = new Uint8Array(0);
  private readonly sample = { sq: 0, compared: 0 };
  /** A remembered offset's realisers merged with the block's (`realisers`). */
  private readonly merged: number[] = [];

  constructor(private readonly config: RecurringOffsetsConfig) {
    this.baseline = { ...config.baseline, bins: 2 };
    this.table = new OffsetCounts(config.minRealisations);
  }

  initState(): RecurringOffsetsState {
    return { rows: NO_ROWS, n: 0, dim: 0, pending: 0, tail: false, offsets: [], share: createShare(), quota: createQuota(), score: DOUBLE_ZERO, run: null, hits: 0, recurring: 0, copies: 0 };
  }

  processBatch(groups: readonly KeyGroup<RecurringOffsetsState>[], ctx: DetectorContext): DetectorOutput[] {
    const c = this.config;
    const opts = baselineOptions(this.baseline);
    const scores = perGroup(groups, (g) => new Float64Array(g.events.length));
    const models = new Map<string, EpochHistogram>();
    const refs = new Map<string, ModelReference | null>();
    const views = perGroup(groups, (g) => new Array<View>(g.events.length));
    const x = new Float32Array(c.dim);
    for (const grp of groups) if (typeof grp.state.rows === 'string') upgrade(grp.state);
    const runs = new BatchStraightRuns(perGroup(groups, (grp) => grp.state), c, perGroup(groups, (grp) => grp.events));

    const walk: RecurringWalk = { groups, ctx, opts, scores, models, refs, views, x, runs };
    // One `step` call per event (see `BatchWalk`).
    const order = eventTimeOrder(groups);
    for (let o = 0; o < order.length; o++) this.step(walk, order[o].g, order[o].i, order[o].e);
    runs.save();
    for (const grp of groups) fitRows(grp.state);
    return groups.map((grp, g) => {
      const explain = (i: number) => this.evidence(views[g][i]);
      return { scores: scores[g], evidence: grp.events.length ? explain(grp.events.length - 1) : [], explain };
    });
  }

  /** One event of the batch, in event time across keys (`processBatch`'s step). */
  private step(w: RecurringWalk, g: number, i: number, e: InferenceEvent): void {
    const c = this.config;
    const { groups, ctx, opts, scores, models, refs, views, x, runs } = w;
    const state = groups[g].state;
    let model = models.get(e.model_id);
    if (!model) models.set(e.model_id, (model = ctx.aggregate<EpochHistogram>(entityName('model:', e.model_id), () => createHistogram(2))));
    advanceEpoch(model, e.ts, opts);
    const dim = this.sketch(e, x);
    const straight = dim > 0 && runs.continuesPrefix(g, x, dim);
    if (straight && state.tail && state.pending > 0) {
      // The previous query was the first step of this straight run: it goes with the run.
      state.n--;
      state.pending--;
    }
    state.tail = false;
    if (dim > 0 && !straight) {
      if (state.dim !== dim) {
        // A new key, or its sketch width changed: start over.
        Object.assign(state, { rows: NO_ROWS, n: 0, dim, pending: 0, tail: false, offsets: [] });
      }
      if (!this.repeats(state.rows as Float32Array, state.n, x, dim)) {
        const rows = this.roomForRows(state, groups[g].events.length - i);
        // Element by element: a subarray per query costs an object.
        for (let j = 0, at = state.n * dim; j < dim; j++) rows[at + j] = x[j];
        state.n++;
        state.pending++;
        state.tail = true;
        if (state.pending >= c.block) {
          let ref = refs.get(e.model_id);
          if (ref === undefined) refs.set(e.model_id, (ref = ctx.reference(e.model_id)));
          this.evaluate(state, rows, model, ref, e);
        }
      }
    }
    scores[g][i] = state.score;
    const before = i > 0 ? views[g][i - 1] : undefined;
    views[g][i] = before && before.score === state.score && before.model === e.model_id && before.share.n === state.share.n ? before : this.view(state, e.model_id);
  }

  /** The event's sketch prefix in `x`; its width, or 0 when unusable. */
  private sketch(e: InferenceEvent, x: Float32Array): number {
    const dim = Math.min(this.config.dim, e.input_sketch.length);
    if (dim < 2) return 0;
    for (let j = 0; j < dim; j++) {
      const v = e.input_sketch[j];
      if (!Number.isFinite(v)) return 0;
      x[j] = v;
    }
    return dim;
  }

  /**
   * The key's rows with room for one more, grown (into a new array of its own) with room for the `left`
   * queries of the key's poll from this one, at most history + block rows: once per poll (`fitRows` trims
   * what the poll left unused).
   */
  private roomForRows(state: RecurringOffsetsState, left: number): Float32Array {
    const rows = state.rows as Float32Array;
    const { dim, n } = state;
    if ((n + 1) * dim <= rows.length) return rows;
    const grown = new Float32Array(Math.min(this.config.history + this.config.block, n + left) * dim);
    grown.set(rows.subarray(0, n * dim));
    state.rows = grown;
    return grown;
  }

  /** Whether `x` equals one of the remembered rows (an exact repeat teaches nothing and realises old offsets again). */
  private repeats(rows: Float32Array, n: number, x: Float32Array, dim: number): boolean {
    for (let r = 0; r < n; r++) {
      let j = 0;
      while (j < dim && rows[r * dim + j] === x[j]) j++;
      if (j === dim) return true;
    }
    return false;
  }

  /** Counts the open block's offsets, scores its queries, remembers its recurring offsets, trims the rows. */
  private evaluate(state: RecurringOffsetsState, rows: Float32Array, model: EpochHistogram, ref: ModelReference | null, e: InferenceEvent): void {
    const c = this.config;
    const dim = state.dim;
    const block = state.pending;
    const first = state.n - block;
    const pairs = block * c.history;
    if (this.slotOf.length < pairs) {
      this.slotOf = new Int32Array(pairs);
      this.squares = new Float64Array(pairs);
    }
    this.slotOf.fill(-1, 0, pairs);
    this.measure(state, rows, first, block);
    this.identify(rows, first, block, dim);
    const table = this.table;
    // An offset recurs when its distinct realisers, here and remembered from earlier blocks, reach minRealisations.
    if (this.recurring.length < table.size) this.recurring = new Uint8Array(table.size);
    const recurring = this.recurring.fill(0, 0, table.size);
    const decay = Math.max(0, 1 - block / c.horizon);
    for (const o of state.offsets) {
      o.w = compact(o.w * decay);
      const slot = table.find(o.id);
      if (slot < 0) continue;
      const distinct = this.realisers(o.fps, table, slot);
      if (distinct + Math.max(0, table.count(slot) - c.minRealisations) >= c.minRealisations) recurring[slot] = 1;
      o.fps = this.merged.slice(0, c.minRealisations);
      o.w += table.count(slot);
      recurring[slot] |= 2; // remembered already
    }
    for (const slot of table.slotsWith(2)) {
      if (recurring[slot] & 2) continue;
      if (table.count(slot) >= c.minRealisations) recurring[slot] = 1;
      // The weight decays into fractions: a double from the start (`DOUBLE_ZERO`), like the id (a hash past 2^31).
      this.remember(state, { id: table.id(slot) + DOUBLE_ZERO, len: table.lengthOf(slot), fps: [...table.fingerprints(slot)], w: table.count(slot) + DOUBLE_ZERO });
    }
    this.scoreBlock(state, rows, first, block, model, ref, e);
    state.score = histogramReady(model, c.baseline.minReferenceSamples) ? tailShareScore(state.share, c) : 0;
    // Keep the newest `history` rows.
    if (state.n > c.history) {
      rows.copyWithin(0, (state.n - c.history) * dim, state.n * dim);
      state.n = c.history;
    }
    state.pending = 0;
  }

  /**
   * Pass 3 of `evaluate`: each query of the block at a recurring offset or a near copy, into the key's
   * share and the model baseline. Apart from `evaluate` so that the loop is optimised on its own: entered
   * in mid-loop (on-stack replacement), `evaluate`'s code met the row trim after it, a path it had not
   * run yet, and went back to the interpreter at every block.
   */
  private scoreBlock(state: RecurringOffsetsState, rows: Float32Array, first: number, block: number, model: EpochHistogram, ref: ModelReference | null, e: InferenceEvent): void {
    let hits = 0;
    let copies = 0;
    let used = 0;
    const c = this.config;
    const dim = state.dim;
    const { slotOf, squares, recurring } = this;
    const owner = referenceHash(e.api_key);
    for (let b = 0; b < block; b++) {
      let recurs = 0;
      for (let k = b * c.history; k < (b + 1) * c.history; k++) {
        const slot = slotOf[k];
        if (slot >= 0 && recurring[slot] & 1) {
          recurs++;
          if (!(recurring[slot] & 4)) used++;
          recurring[slot] |= 4; // counted among the recurring offsets used
        }
      }
      if (recurs > 0) hits++;
      const p = first + b;
      const copy = recurs === 0 && this.nearCopy(rows, p, dim, ref, owner, squares, b * c.history - Math.max(0, p - c.history));
      if (copy) copies++;
      this.count(state, recurs > 0 || copy, model, e);
    }
    state.hits = hits;
    state.copies = copies;
    state.recurring = used;
  }

  /**
   * Pass 1 of `evaluate`: every pair's squared length (row `first + b` of the block against each of the
   * `history` rows before it, pair `b × history + r`); only pairs whose length recurs, or that a
   * remembered offset has, go on to `identify`. Apart from `evaluate` so that the kernels it calls are
   * inlined into its loops (numbers passed to a call that is not are boxed).
   */
  private measure(state: RecurringOffsetsState, rows: Float32Array, first: number, block: number): void {
    const history = this.config.history;
    const dim = state.dim;
    const squares = this.squares;
    const lengths = this.lengths;
    lengths.clear(block * history);
    for (const o of state.offsets) lengths.mark(o.len);
    for (let b = 0; b < block; b++) {
      const p = first + b;
      const from = Math.max(0, p - history);
      const at = b * history;
      squaredDistancesTo(rows, p * dim, rows, from, p, dim, dim, squares, at);
      for (let k = at; k < at + p - from; k++) {
        const sq = squares[k];
        if (sq > 0) lengths.addPair(lengthClass(sq), k);
      }
    }
  }

  /** Pass 2 of `evaluate`: the full identities of the pairs `measure` let through, counted by distinct realiser, their slots in `slotOf`. */
  private identify(rows: Float32Array, first: number, block: number, dim: number): void {
    const { history, quantum } = this.config;
    const { squares, slotOf, lengths, table } = this;
    table.reset(block * history);
    for (let b = 0; b < block; b++) {
      const p = first + b;
      const fp = rowFingerprint(rows, p * dim, dim);
      const from = Math.max(0, p - history);
      for (let r = from; r < p; r++) {
        const k = b * history + (r - from);
        if (lengths.pairRecurs(k)) slotOf[k] = table.add(offsetId(rows, p * dim, rows, r * dim, dim, squares[k], quantum), b, fp, lengthClass(squares[k]));
      }
    }
  }

  /**
   * Whether row `p` is a near copy: closer to one of the key's last m rows before it than `nearCopyRatio`
   * times the distance from it to its nearest among m members of the model's reference (m the rows the
   * reference sample could match, other keys' members only), in the coordinates both have. `squares[at + r]`
   * holds the block's squared distance from row `p` to row `r` in all `dim` coordinates.
   */
  private nearCopy(rows: Float32Array, p: number, dim: number, ref: ModelReference | null, owner: number, squares: Float64Array, at: number): boolean {
    const c = this.config;
    if (!ref || c.nearCopyRatio <= 0) return false;
    const d = Math.min(dim, ref.dim);
    const m = Math.min(p, c.history);
    if (d < 2 || m === 0) return false;
    const sample = this.sample;
    ref.nearestOfSample(rows, p * dim, d, m, owner, sample);
    if (sample.compared === 0) return false;
    let self = Number.POSITIVE_INFINITY;
    for (let r = p - sample.compared; r < p; r++) {
      // The block measured these pairs already, unless the reference keeps fewer coordinates.
      const sq = d === dim ? squares[at + r] : offsetSquare(rows, p * dim, rows, r * dim, d);
      if (sq < self) self = sq;
    }
    return self > 0 && self < c.nearCopyRatio * c.nearCopyRatio * sample.sq;
  }

  /**
   * The distinct fingerprints of a remembered offset's realisers, its own first and then the block's
   * (a set's insertion order), into `this.merged`; returns how many.
   */
  private realisers(own: readonly number[], table: OffsetCounts, slot: number): number {
    const merged = this.merged;
    merged.length = 0;
    for (const fp of own) if (!merged.includes(fp)) merged.push(fp);
    const fps = table.fingerprints(slot);
    for (let k = 0; k < fps.length; k++) if (!merged.includes(fps[k])) merged.push(fps[k]);
    return merged.length;
  }

  private remember(state: RecurringOffsetsState, o: KnownOffset): void {
    if (state.offsets.length < this.config.slots) {
      state.offsets.push(o);
      return;
    }
    let weakest = 0;
    for (let s = 1; s < state.offsets.length; s++) if (state.offsets[s].w < state.offsets[weakest].w) weakest = s;
    if (state.offsets[weakest].w < o.w) state.offsets[weakest] = o;
  }

  /** One query of a block into the key's share (once the model baseline exists) and into the model baseline. */
  private count(state: RecurringOffsetsState, hit: boolean, model: EpochHistogram, e: InferenceEvent): void {
    const c = this.config;
    const tail: Tail | null = histogramReady(model, c.baseline.minReferenceSamples) ? { threshold: 0, expected: Math.max(c.minExpected, model.ref[1]) } : null;
    if (tail) addToShare(state.share, hit, tail.expected, c.window);
    if (mayFeedBaseline(tail, state.share, c.window, state.score, this.baseline) && takeQuota(state.quota, e.ts, c.baseline.epochMs, c.baseline.perKeyEpochCap)) {
      addToHistogram(model, hit ? 1 : 0);
    }
  }

  private view(state: RecurringOffsetsState, model: string): View {
    return { model, score: state.score, share: { ...state.share }, hits: state.hits, recurring: state.recurring, copies: state.copies ?? 0 };
  }

  private evidence(v: View): string[] {
    if (!(v.score > 0)) return [];
    const c = this.config;
    const sh = v.share;
    return [
      `${pct(sh.s)} of recent queries (window ${c.window}, ${sh.n} judged) sit at an offset from an earlier query that ${c.minRealisations}+ distinct queries took, ` +
        `or are near copies of the key's own earlier queries (closer to one than ${fmt(c.nearCopyRatio, 2)}× the distance at which as many of model ${v.model}'s queries have their nearest), ` +
        `against ${pct(sh.e, 1)} for the model's traffic (z=${fmt(shareExcessZ(sh, c.window), 1)}); ` +
        `of the last ${c.block}: ${v.hits} on ${v.recurring} recurring offset${v.recurring === 1 ? '' : 's'}, ${v.copies} near cop${v.copies === 1 ? 'y' : 'ies'}`,
    ];
  }
}

/** The rows of a key that has none (shared: a key's rows are replaced when they grow, never written in place while empty). */
const NO_ROWS = new Float32Array(0);

/**
 * A key's rows trimmed to exactly what they hold between polls, a busy key's too: its room for the open
 * block would otherwise be held (and packed, and snapshotted) for as long as the key lives, where the next
 * poll grows it again by what that poll needs (`roomForRows`).
 */
function fitRows(state: RecurringOffsetsState): void {
  const rows = state.rows as Float32Array;
  if (rows.length > state.n * state.dim) state.rows = state.n > 0 ? rows.slice(0, state.n * state.dim) : NO_ROWS;
}

/** A state of the older snapshot form (base64 rows, last sketch and step) in typed arrays: the rows exactly, the rest as the straight-run test reads it. */
function upgrade(state: RecurringOffsetsState): void {
  const rows = state.rows as string;
  state.rows = rows ? unpackFloat32(rows) : NO_ROWS;
  state.n = state.dim > 0 ? Math.min(state.n, Math.floor(state.rows.length / state.dim)) : 0;
  for (const k of ['last', 'step'] as const) {
    const v = state[k];
    if (typeof v === 'string') state[k] = v ? unpackFloat32(v) : null;
  }
}

export const recurringOffsets: DetectorDefinition<RecurringOffsetsConfig, RecurringOffsetsState> = {
  name: 'recurring-offsets',
  description: 'share of queries that are synthetic variants of the key\'s own: at an offset from an earlier query that other queries also took (Jacobian-based augmentation steps), or a near copy of one (random perturbations)',
  configSchema: recurringOffsetsConfigSchema,
  create: (config) => new RecurringOffsetsDetector(config),
};
