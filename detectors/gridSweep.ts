import { z } from 'zod';
import type { MinDistanceJob } from '../src/compute/Compute.ts';
import { type PackedRing, unpackFloat32, unpackSymmetric } from '../src/compute/packedVectors.ts';
import type { InferenceEvent } from '../src/contract.ts';
import { shapiroWilk, SHAPIRO_WILK_MAX_N } from '../src/stats/shapiroWilk.ts';
import { addOuterProductUpper, participationRatioUpper, upperIndex } from '../src/stats/effectiveDimension.ts';
import { dominantLengths } from '../src/stats/spacing.ts';
import { fmt, pct, ramp } from './shared/math.ts';
import { exactCopy } from './shared/appended.ts';
import { otherRow } from './shared/otherRow.ts';
import { continuesStep, hasStep, runOf } from './shared/StraightRun.ts';
import { emptyRing, type RingState, TypedRing } from './shared/TypedRing.ts';
import type { Detector, DetectorContext, DetectorDefinition, DetectorOutput, KeyGroup } from './types.ts';
import { squaredDistance } from '../src/compute/squaredDistance.ts';
import { DOUBLE_ZERO } from '../src/state/doubleZero.ts';
import { modelLabel } from './shared/batch.ts';

const int = () => z.number().int();
const unit = () => z.number().min(0).max(1);

export const gridSweepConfigSchema = z.object({
  /** Sketch coordinates used: a prefix of a random projection is itself one, and the width sets the state size. */
  maxDim: int().min(2).max(256).default(16),
  /** PRADA (Juuti et al. 2019): normality of the distances from each query to the earlier ones of its class. */
  prada: z
    .object({
      /** δ: alarm when the Shapiro–Wilk W of the pooled distances falls below it (the paper's reference value ≈ 0.9). */
      delta: unit().default(0.9),
      /** Distances pooled before the first test (the paper waits for 100). */
      minDistances: int().min(3).default(100),
      /** The test is repeated after every this many of the key's queries. */
      retestEvery: int().positive().default(10),
      /** Most recent distances kept and tested (a sliding window bounds the state; ≤ 5000, Shapiro–Wilk's range). */
      window: int().min(3).max(SHAPIRO_WILK_MAX_N).default(250),
      /**
       * A distance joins the pool only once its set has this many members: the first few distances of a
       * class (to one or two members) are large outliers for everyone, and would pull W down for benign keys.
       */
      minSetSize: int().min(1).default(2),
      /**
       * A query that continues the key's previous step in a straight line (cosine ≥ `straightCos`, length
       * within `straightRatio` either way) adds no distance to D: a what-if analyst's sweep takes the same
       * small step again and again by design, which the normality test reads as synthetic, while the lattice,
       * direction and coverage parts judge sweeps. The same test as `recurring-offsets`' and `off-manifold`'s.
       * `straightCos` 1 turns it off.
       */
      straightCos: unit().default(0.995),
      straightRatio: z.number().min(1).default(2.5),
      /** Growing-set members kept per class; past it new members replace old ones by reservoir sampling. */
      maxPerClass: int().positive().default(32),
      /** Growing sets per key: classes beyond it share sets (hashed by model and label). */
      maxClasses: int().positive().default(6),
      /** Component score just below δ, and how far below δ it reaches its full `weight`. */
      floor: unit().default(0),
      wSpan: z.number().positive().default(0.1),
      /**
       * The most the normality test alone contributes. PRADA's δ was set on image and digit data, whose
       * distances are near-normal; tabular records with zero-inflated, skewed and rounded features are not:
       * in the quality benchmark real Seattle weather records (batch scorers, replayed test sets) give
       * W = 0.67–0.84 after 100–250 distances, below the W of several attacks (0.82–0.86). So the test alone
       * reaches `observe`, and needs the geometry evidence (or another detector) to go further.
       */
      weight: unit().default(0.3),
    })
    .strict()
    .prefault({}),
  /** Geometry of the steps between a key's successive distinct queries. */
  steps: z
    .object({
      /** Most recent steps examined. */
      window: int().min(8).max(4096).default(128),
      /** Steps needed before lattice or direction evidence counts (a what-if sweep of a few dozen queries stays below). */
      minSteps: int().positive().default(64),
      /** Step lengths within this relative tolerance count as one size… */
      latticeTol: z.number().positive().default(0.02),
      /** …and the share held by this many sizes is the lattice share. */
      latticeSizes: int().positive().default(3),
      latticeLow: unit().default(0.5),
      latticeHigh: unit().default(0.85),
      /** Two steps are collinear when |cos| ≥ this. */
      directionCos: z.number().min(0).max(1).default(0.995),
      /** Direction prototypes remembered. */
      directionSlots: int().min(1).max(64).default(8),
      /** A direction recurs once this many steps of the window run along it… */
      minDirectionRepeats: int().positive().default(5),
      /**
       * …in at least this many separate runs (a run: successive steps along one direction). A what-if
       * analyst sweeps one feature of one record in one long run, then moves to another record; a lattice
       * comes back to the same direction run after run (every 2–5 steps in nested-loop order). Up to six
       * sweeps of 20+ steps fit in the window, so one feature swept on every record stays below 8.
       */
      minDirectionRuns: int().positive().default(8),
      /** …and the evidence needs this many recurring directions (one direction alone is a one-feature what-if sweep). */
      minDirections: int().positive().default(2),
      directionLow: unit().default(0.4),
      directionHigh: unit().default(0.75),
    })
    .strict()
    .prefault({}),
  /**
   * Space-filling coverage of a slice: the effective dimension of the recent step directions. A sweep
   * over k features (the rest held fixed) moves inside a k-dimensional subspace; natural records vary
   * in many features (10 independent features give ≈ 5.5 in a 16-wide sketch). Scored from `fullAt`
   * dimensions (1) up to `noneAt` (0), after `steps.minSteps` steps; the defaults flag slices of one or
   * two features. Where the model's own traffic steps in few dimensions (data of low intrinsic
   * dimension: a sketch of a few raw features, or of many driven by two latent factors), natural
   * records are a slice too: `noneAt` is then at most `trafficShare` of the traffic's step dimension
   * (`ModelReference.stepDimension`), and `fullAt` scales with it, so a key is flagged only for stepping
   * in a small part of the span the model's traffic steps in. Before the model's reference is ready the
   * test abstains.
   */
  coverage: z
    .object({
      fullAt: z.number().positive().default(1.5),
      noneAt: z.number().positive().default(2.5),
      /**
       * Only turns count (steps whose direction differs from the previous step's), and the signal needs
       * this many of them in the window: a one-feature sweep is one turn then a straight run, so an
       * analyst's sweeps of a few features would otherwise read as a slice; a space-filling design turns
       * at every step.
       */
      minTurns: int().positive().default(24),
      /** The most this signal alone contributes. */
      weight: unit().default(0.8),
      /** A slice spans at most this share of the model's traffic's step dimension (see above). */
      trafficShare: unit().default(0.5),
    })
    .strict()
    .prefault({}),
  /** Exact repeats (same input hash): people re-ask; sweeps never do. */
  repeats: z
    .object({
      /** Most recent queries checked for repeats. */
      window: int().positive().max(4096).default(128),
      /** Queries needed before the repeat share counts either way. */
      minEvents: int().positive().default(100),
      /**
       * At or above this share of repeats the key looks human, and the normality evidence is multiplied by
       * `damp`: people who come back to a few topics give exactly the mixture of small (same topic) and
       * large (new topic) distances that PRADA reads as synthetic. Lattice, direction and coverage
       * evidence is not damped: people do not walk lattices.
       */
      humanShare: unit().default(0.05),
      damp: unit().default(0.2),
      /** With no repeat at all the score is multiplied by `boost` (capped at 1). */
      boost: z.number().min(1).max(2).default(1.15),
    })
    .strict()
    .prefault({}),
});
export type GridSweepConfig = z.output<typeof gridSweepConfigSchema>;

/** One growing set G_c (PRADA), with the running moments of the distances that admitted its members. */
interface ClassSet {
  model: string;
  dim: number;
  /** Members: exactly `n` rows of `dim` float32 (base64 in older snapshots). */
  rows: Float32Array | string;
  n: number;
  /** Queries ever admitted (reservoir sampling's count). */
  seen: number;
  /** Welford moments of D_G (the distances of admitted queries): threshold = max(0, mean − std). */
  dgN: number;
  dgMean: number;
  dgM2: number;
}

/** What the last evaluation found; the score and evidence are rebuilt from it. */
interface View {
  score: number;
  /** PRADA: W (−1 before the first test; 0 when all distances were equal), its p-value, distances tested. */
  w: number;
  p: number;
  wN: number;
  lattice: number;
  latticeSizes: number[];
  directions: number;
  directionShare: number;
  /** Steps of the window whose direction differs from the previous step's. */
  turns: number;
  steps: number;
  /** Effective dimension (participation ratio) of the recent step directions, and the sketch width. */
  dims: number;
  width: number;
  /** The model's traffic's step dimension the coverage test was read against (null: unknown; absent in older state). */
  trafficDims?: number | null;
  /** The pooled distances' median (evidence for a perfect lattice). */
  median: number;
  repeats: number;
  repeatN: number;
  parts: [normality: number, lattice: number, directions: number, coverage: number];
  /** Multiplier of the normality part from the repeat share (damp, or 1). */
  damp: number;
  /** Multiplier of the whole score (boost when no repeat at all, else 1). */
  factor: number;
}

/**
 * Per-key state, bounded whatever the key's history, its vectors live in
 * typed arrays of their exact size (encoded only when a snapshot is written
 * or the key is packed). Ceiling in snapshot bytes, with d = min(sketch
 * width, maxDim): growing sets maxClasses × maxPerClass × d × 4, distances
 * prada.window × 4, steps steps.window × (4 + 2), direction prototypes
 * directionSlots × d × 4, step moments d(d + 1)/2 × 4, repeats
 * repeats.window × (4 + 1), the last sketch and step 2 × d × 4, plus ≈ 1.5 kB
 * of numbers and names. At the defaults with 16-wide sketches: 12,288 B of
 * members and ≈ 5.2 kB for the rest, so at most 18 kB per key (a unit test
 * fills every set and checks it; `npm run bench:state` measures it).
 * Older snapshots hold the same vectors as base64 (`PackedRing` for the
 * rings); a key's state of that form is converted at its next poll.
 */
export interface GridSweepState {
  sets: (ClassSet | null)[];
  distances: RingState<'f32'> | PackedRing;
  steps: RingState<'f32'> | PackedRing;
  stepDirections: RingState<'u16'> | PackedRing;
  /** Direction prototypes: unit vectors of the slots in use (base64 float32 in older snapshots), their serial numbers and decayed hit counts. */
  protos: Float32Array | string;
  /**
   * Decayed second moments of the unit directions of the steps that turn, protoDim × protoDim float32: the
   * upper triangle, row by row (older snapshots: base64 of it, or of the whole matrix). Empty while a young
   * key's turns are held in `turns` instead.
   */
  moments: Float32Array | string;
  /**
   * The unit directions of the steps that turned while `moments` was still empty, oldest first, protoDim
   * float32 each: added to the moments (as each turn would have been, so bit for bit the same) when the
   * moments are read, or once they would take more room than the moments themselves. A key of a few
   * queries so holds its two or three turns (64 bytes each in 16 dimensions) instead of a 544-byte matrix.
   * Absent in older snapshots.
   */
  turns?: Float32Array;
  protoDim: number;
  protoSerial: number[];
  protoWeight: number[];
  nextSerial: number;
  /**
   * The previous distinct query and the step that led to it (for steps): `run` holds the sketch and the step,
   * as many float32 each, in one vector (a step of zeros before there is one: `StraightRunState`). Older
   * snapshots hold the sketch alone in `sketch` (base64 float32 in older ones still) and the step in `lastStep`.
   */
  last: { model: string; run: Float32Array } | { model: string; sketch: Float32Array | string } | null;
  /** Older snapshots: the step that led to `last` (base64 float32 in older ones still; absent before a key's second query). */
  lastStep?: Float32Array | string;
  hashes: RingState<'u32'> | PackedRing;
  repeatFlags: RingState<'u8'> | PackedRing;
  /** Queries since the last evaluation. */
  sinceEval: number;
  distancesTotal: number;
  view: View;
}

// Numbers start on doubles (`DOUBLE_ZERO`): an evaluation writes fractions into them.
const emptyView = (): View => ({
  score: DOUBLE_ZERO,
  w: -1 + DOUBLE_ZERO,
  p: 1 + DOUBLE_ZERO,
  wN: DOUBLE_ZERO,
  lattice: DOUBLE_ZERO,
  latticeSizes: [],
  directions: DOUBLE_ZERO,
  directionShare: DOUBLE_ZERO,
  turns: DOUBLE_ZERO,
  steps: DOUBLE_ZERO,
  dims: DOUBLE_ZERO,
  width: DOUBLE_ZERO,
  trafficDims: null,
  median: DOUBLE_ZERO,
  repeats: DOUBLE_ZERO,
  repeatN: DOUBLE_ZERO,
  parts: [DOUBLE_ZERO, DOUBLE_ZERO, DOUBLE_ZERO, DOUBLE_ZERO],
  damp: 1 + DOUBLE_ZERO,
  factor: 1 + DOUBLE_ZERO,
});

/**
 * The view of a key not yet evaluated, one for every such key: a state's view is replaced by each
 * evaluation, never changed in place (frozen, so that a change would throw rather than reach other keys).
 */
const INITIAL_VIEW: View = (() => {
  const v = emptyView();
  Object.freeze(v.latticeSizes);
  Object.freeze(v.parts);
  return Object.freeze(v);
})();

/** FNV-1a: which growing set a (model, label) pair uses. */
function slotOf(model: string, label: number, slots: number): number {
  // The hash of `${model}\u0000${label}`, without building the string at every query.
  let h = 0x811c9dc5;
  for (let i = 0; i < model.length; i++) h = Math.imul(h ^ model.charCodeAt(i), 0x01000193);
  h = Math.imul(h, 0x01000193);
  const l = String(label);
  for (let i = 0; i < l.length; i++) h = Math.imul(h ^ l.charCodeAt(i), 0x01000193);
  return (h >>> 0) % slots;
}

/** A uniform draw in [0,1) fixed by the query and the count (deterministic reservoir sampling, so replay repeats itself). */
function drawFor(e: InferenceEvent, seen: number): number {
  let x = (e.input_hash.readUInt32LE(4) ^ Math.imul(seen, 0x9e3779b1)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return ((x ^ (x >>> 16)) >>> 0) / 4294967296;
}

function sketchOf(e: InferenceEvent, maxDim: number): Float32Array | null {
  const d = Math.min(e.input_sketch.length, maxDim);
  if (d < 2) return null;
  const x = new Float32Array(d);
  for (let j = 0; j < d; j++) x[j] = e.input_sketch[j];
  for (let j = 0; j < d; j++) if (!Number.isFinite(x[j])) return null;
  return x;
}

/** L2 distance, float64 arithmetic on float32 rows, rounded to float32 as the Compute kernels return it. */
function distance(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  return Math.fround(Math.sqrt(squaredDistance(a, ao, b, bo, dim)));
}

/** A growing set opened for one batch: members as a Float32Array, and whether the kernel's answer (against the set as the batch found it) still holds. */
interface OpenSet {
  meta: ClassSet;
  rows: Float32Array;
  /** Members when the batch started; the kernel measured against exactly these while `intact`. */
  startN: number;
  start: Float32Array;
  intact: boolean;
}

/** The key's work for one batch, between the batched kernel call and the scoring walk. */
interface KeyWork {
  /** The repeat-check ring, already advanced over the batch's hashes. */
  hashes: TypedRing<'u32'>;
  sketches: (Float32Array | null)[];
  repeat: boolean[];
  /** Index into the poll's kernel jobs, or −1. */
  job: number[];
  sets: Map<number, OpenSet>;
}

/**
 * Grid sweep: the geometry of a key's input sketches.
 *
 * 1. PRADA — Juuti, Szyller, Marchal & Asokan, "PRADA: Protecting Against
 *    DNN Model Stealing Attacks", IEEE EuroS&P 2019. Per predicted class a
 *    growing set G_c of earlier queries; each new query's minimum L2
 *    distance to G_c joins a pooled set D; the query joins G_c only when
 *    that distance exceeds T_c = max(0, mean(D_G) − std(D_G)), the running
 *    moments of the distances that admitted members. Benign queries give
 *    roughly normally distributed distances; synthetic ones (perturbations
 *    of seeds, sweeps) do not, so the key alarms when the Shapiro–Wilk W of
 *    D falls below δ after ≥ 100 distances, re-tested every few queries;
 *    here the alarm is graded, from 0 at δ to 1 at δ − wSpan.
 *    Bounded here: G_c keeps `maxPerClass` members by reservoir sampling
 *    (Vitter 1985, Algorithm R), D is a sliding window, classes beyond
 *    `maxClasses` share sets, and distances to sets of fewer than
 *    `minSetSize` members stay out of D (every key's first distances of a
 *    class are large, which alone pulled benign W under 0.9). Exact repeats
 *    (a seen input hash, or distance 0) are left out of D: re-asking
 *    teaches an attacker nothing, and a heavy user replaying a test set
 *    would otherwise pile zeros into it. The distances of a poll come from
 *    one batched `Compute.minDistances` call over every key.
 *    In a 16-wide sketch the random projection blurs the equal lengths of
 *    Jacobian-augmentation steps (±18% for sign vectors), so PRADA here
 *    separates perturbation attacks whose step is up to about 0.2 of the
 *    features' spread (W ≈ 0.6–0.8 against ≥ 0.9 for natural keys in the
 *    unit tests); coarser perturbations look natural to it. On tabular data
 *    with zero-inflated, skewed and rounded features the test misfires the
 *    other way — real weather records give W = 0.67–0.84 in the quality
 *    benchmark — so alone it contributes at most `prada.weight` (observe).
 * 2. What PRADA misses, on the steps between successive distinct queries:
 *    lattice spacing (a few step lengths hold most steps) and repeated step
 *    directions — a step along one input feature is, after the gateway's
 *    random projection, a step along that feature's fixed image in sketch
 *    space, so an axis-aligned sweep shows as steps collinear with a few
 *    recurring directions (random directions in d ≥ 8 dimensions are almost
 *    never collinear). A direction recurs only when it comes back in
 *    `minDirectionRuns` separate runs (successive steps along it): a
 *    lattice in nested-loop order returns to each axis every few steps,
 *    while a what-if analyst sweeps one feature of one record in one long
 *    run and then moves to another record, so even an analyst who sweeps
 *    the same feature all day stays quiet. Few step sizes count as a
 *    lattice only along such recurring directions. Both need `minSteps`
 *    steps and at least two recurring directions.
 * 3. Space-filling coverage of a slice: a sweep over k features, the rest
 *    held fixed, fills a k-dimensional subspace (a linear projection keeps
 *    it k-dimensional), whether it walks a lattice, a Halton sequence or
 *    random points of the slice; natural records vary in every feature. The
 *    participation ratio of the decayed second moments of the step
 *    directions measures k (see `participationRatio`). Only turns (steps
 *    whose direction differs from the previous step's) enter the moments,
 *    and the signal needs `coverage.minTurns` of them: a sweep's straight
 *    run would otherwise read as a one-dimensional slice.
 * 4. Absence of repeats: people re-ask; a sweep never does. A human share
 *    of exact repeats damps the normality evidence (its known benign
 *    failure: people revisiting a few topics), none at all boosts the score
 *    a little.
 */
export class GridSweepDetector implements Detector<GridSweepState> {
  readonly name = 'grid-sweep';
  readonly family = 'geometry' as const;
  readonly signature = true;
  /** Scratch (never state): two step rows written in turn, a unit step, and per-serial counts for `evaluate`. */
  private readonly steps: [Float32Array, Float32Array] = [NO_VECTOR, NO_VECTOR];
  private readonly unit = { row: NO_VECTOR };
  private readonly serialSteps = new Uint16Array(0x10000);
  private readonly serialRuns = new Uint16Array(0x10000);
  private seenSerials = new Uint16Array(0);
  /** Members of the growing set the last `admit` measured against. */
  private measuredAgainst = 0;

  constructor(private readonly config: GridSweepConfig) {}

  initState(): GridSweepState {
    return {
      sets: new Array(this.config.prada.maxClasses).fill(null),
      distances: emptyRing('f32'),
      steps: emptyRing('f32'),
      stepDirections: emptyRing('u16'),
      protos: NO_VECTOR,
      moments: NO_VECTOR,
      turns: NO_VECTOR,
      protoDim: 0,
      protoSerial: [],
      protoWeight: [],
      nextSerial: 1,
      last: null,
      hashes: emptyRing('u32'),
      repeatFlags: emptyRing('u8'),
      sinceEval: 0,
      distancesTotal: 0,
      view: INITIAL_VIEW,
    };
  }

  processBatch(groups: readonly KeyGroup<GridSweepState>[], ctx: DetectorContext): DetectorOutput[] {
    // Pass 1, per key in event order: sketches, repeats, and one kernel job
    // per distinct query against its growing set as the batch found it.
    const jobs: MinDistanceJob[] = [];
    const work = groups.map((g) => this.plan(g, jobs));
    const nearest = jobs.length > 0 ? ctx.compute.minDistances(jobs) : [];
    // Pass 2, same order: PRADA's admissions, the steps, the evaluations.
    return groups.map((g, k) => this.walk(g, work[k], nearest, ctx));
  }

  private plan(g: KeyGroup<GridSweepState>, jobs: MinDistanceJob[]): KeyWork {
    const c = this.config;
    const state = g.state;
    if (typeof state.protos === 'string') upgrade(state);
    if (state.last && 'sketch' in state.last) upgradeLast(state);
    const hashes = new TypedRing('u32', c.repeats.window, state.hashes, g.events.length);
    const w: KeyWork = { hashes, sketches: [], repeat: [], job: [], sets: new Map() };
    for (const e of g.events) {
      const x = sketchOf(e, c.maxDim);
      const h = e.input_hash.readUInt32LE(0);
      const repeat = hashes.includes(h);
      hashes.push(h);
      w.sketches.push(x);
      w.repeat.push(repeat);
      w.job.push(-1);
      if (!x || repeat) continue;
      const slot = slotOf(e.model_id, modelLabel(e), c.prada.maxClasses);
      const set = this.openSet(state, w, slot);
      if (set && set.startN > 0 && set.meta.model === e.model_id && set.meta.dim === x.length) {
        w.job[w.job.length - 1] = jobs.push({ queries: x, refs: set.start, dim: x.length }) - 1;
      }
    }
    return w;
  }

  private openSet(state: GridSweepState, w: KeyWork, slot: number): OpenSet | null {
    let open = w.sets.get(slot);
    if (open) return open;
    const meta = state.sets[slot];
    if (!meta) return null;
    // The kernel reads the members before any admission of the poll, and an admission that grows the set
    // replaces its array: so the set as the poll found it needs no copy.
    const rows = meta.rows as Float32Array;
    open = { meta, rows, startN: meta.n, start: rows.length === meta.n * meta.dim ? rows : rows.subarray(0, meta.n * meta.dim), intact: true };
    w.sets.set(slot, open);
    return open;
  }

  private walk(g: KeyGroup<GridSweepState>, w: KeyWork, nearest: Float32Array[], ctx: DetectorContext): DetectorOutput {
    const c = this.config;
    const state = g.state;
    if (state.sets.length !== c.prada.maxClasses) state.sets = resize(state.sets, c.prada.maxClasses);
    const room = g.events.length;
    const distances = new TypedRing('f32', c.prada.window, state.distances, room);
    const steps = new TypedRing('f32', c.steps.window, state.steps, room);
    const directions = new TypedRing('u16', c.steps.window, state.stepDirections, room);
    const flags = new TypedRing('u8', c.repeats.window, state.repeatFlags, room);
    const dirs = new Directions(state, c, this.unit);
    let lastSerial = directions.n > 0 ? directions.newest() : 0;
    const startModel = state.last ? state.last.model : null;
    const startRun = state.last ? (state.last as { run: Float32Array }).run : null;
    const width = startRun ? startRun.length / 2 : 0;
    let lastModel = startModel;
    const startX = startRun ? startRun.subarray(0, width) : null;
    let lastX = startX;
    const startStep = startRun && hasStep(startRun, width) ? startRun.subarray(width) : null;
    let lastStep = startStep;
    const scores = new Float64Array(g.events.length);
    const views: View[] = new Array(g.events.length);

    for (let i = 0; i < g.events.length; i++) {
      const e = g.events[i];
      const x = w.sketches[i];
      flags.push(w.repeat[i] ? 1 : 0);
      if (x && !w.repeat[i]) {
        let step: Float32Array | null = null;
        let sq = 0;
        if (lastX && lastModel === e.model_id && lastX.length === x.length) {
          step = otherRow(this.steps, lastStep, x.length);
          for (let j = 0; j < x.length; j++) {
            step[j] = x[j] - lastX[j];
            sq += step[j] * step[j];
          }
        }
        const len = Math.sqrt(sq);
        const straight = step !== null && len > 0 && lastStep !== null && continuesStep(lastStep, step, sq, c.prada);
        const slot = slotOf(e.model_id, modelLabel(e), c.prada.maxClasses);
        const d = this.admit(state, w, slot, e, x, w.job[i] >= 0 ? nearest[w.job[i]][0] : Number.NaN);
        const members = this.measuredAgainst;
        if (!straight && d > 0 && Number.isFinite(d) && members >= c.prada.minSetSize) {
          distances.push(d);
          state.distancesTotal++;
        }
        lastStep = step !== null && len > 0 ? step : null;
        if (step !== null) {
          if (len > 0) {
            const serial = dirs.match(step, len, lastSerial);
            steps.push(len);
            directions.push(serial);
            lastSerial = serial;
          }
        }
        lastModel = e.model_id;
        lastX = x;
      }
      if (x) state.sinceEval++;
      if (state.sinceEval >= c.prada.retestEvery) {
        state.sinceEval = 0;
        // The traffic's step dimension is computed once per reference and width (`ModelReference.stepDimension`).
        const trafficDims = lastModel === null ? null : (ctx.reference(lastModel)?.stepDimension(dirs.width) ?? null);
        state.view = this.evaluate(distances, steps, directions, flags, dirs, trafficDims);
      }
      scores[i] = state.view.score;
      views[i] = state.view;
    }

    // The rings stay in typed arrays between polls, trimmed to what they hold while they fill. Their
    // readers sort, count or read them oldest first, so no answer depends on where a ring's head is.
    state.distances = distances.save();
    state.steps = steps.save();
    state.stepDirections = directions.save();
    state.repeatFlags = flags.save();
    state.hashes = w.hashes.save();
    dirs.save(state);
    // The state's run is its own array, never a scratch row or a batch's sketch.
    if (lastX !== startX || lastStep !== startStep || lastModel !== startModel) state.last = lastX ? { model: lastModel as string, run: runOf(lastX, lastStep)! } : null;
    const explain = (i: number) => this.evidence(views[i]);
    return { scores, evidence: g.events.length ? explain(g.events.length - 1) : [], explain };
  }

  /**
   * PRADA's step for one distinct query of class slot `slot`: its minimum
   * distance to G_c (the kernel's answer against the set as the batch found
   * it, completed with members admitted since; recomputed here once the
   * batch has replaced an original member, or when there was no kernel job),
   * then admission when above the threshold. Returns the distance (Infinity
   * when G_c was empty); the members it was measured against are left in
   * `measuredAgainst` (no object per query).
   */
  private admit(state: GridSweepState, w: KeyWork, slot: number, e: InferenceEvent, x: Float32Array, kernel: number): number {
    const c = this.config.prada;
    let open = this.openSet(state, w, slot);
    if (!open || open.meta.model !== e.model_id || open.meta.dim !== x.length) {
      // A new set, or a slot taken over by another model or sketch width.
      const meta: ClassSet = { model: e.model_id, dim: x.length, rows: NO_VECTOR, n: 0, seen: 0, dgN: 0, dgMean: DOUBLE_ZERO, dgM2: DOUBLE_ZERO };
      state.sets[slot] = meta;
      open = { meta, rows: NO_VECTOR, startN: 0, start: NO_VECTOR, intact: false };
      w.sets.set(slot, open);
    }
    const { meta, rows } = open;
    const dim = x.length;
    let d = Number.POSITIVE_INFINITY;
    if (open.intact && open.startN > 0 && !Number.isNaN(kernel)) {
      d = kernel;
      for (let r = open.startN; r < meta.n; r++) d = Math.min(d, distance(x, 0, rows, r * dim, dim));
    } else {
      for (let r = 0; r < meta.n; r++) d = Math.min(d, distance(x, 0, rows, r * dim, dim));
    }
    const members = meta.n;
    const threshold = meta.dgN > 0 ? Math.max(0, meta.dgMean - Math.sqrt(meta.dgM2 / meta.dgN)) : 0;
    this.measuredAgainst = members;
    if (meta.n > 0 && !(d > threshold)) return d;
    if (Number.isFinite(d)) {
      meta.dgN++;
      const delta = d - meta.dgMean;
      meta.dgMean += delta / meta.dgN;
      meta.dgM2 += delta * (d - meta.dgMean);
    }
    meta.seen++;
    if (meta.n < c.maxPerClass) {
      // Grown by one row, into an array of its own: at most maxPerClass times in the set's life.
      const grown = new Float32Array((meta.n + 1) * dim);
      grown.set(rows.subarray(0, meta.n * dim));
      grown.set(x, meta.n * dim);
      open.rows = meta.rows = grown;
      meta.n++;
    } else {
      const j = Math.floor(drawFor(e, meta.seen) * meta.seen);
      if (j < c.maxPerClass) {
        rows.set(x, j * dim);
        if (j < open.startN) open.intact = false;
      }
    }
    return d;
  }

  private evaluate(distances: TypedRing<'f32'>, steps: TypedRing<'f32'>, directions: TypedRing<'u16'>, flags: TypedRing<'u8'>, dirs: Directions, trafficDims: number | null): View {
    const c = this.config;
    const v = emptyView();
    // PRADA's normality test on the pooled distances.
    if (distances.n >= c.prada.minDistances) {
      const d = distances.values.subarray(0, distances.n);
      let lo = Number.POSITIVE_INFINITY;
      let hi = 0;
      for (let k = 0; k < d.length; k++) {
        lo = Math.min(lo, d[k]);
        hi = Math.max(hi, d[k]);
      }
      if (hi - lo <= 1e-6 * hi) {
        v.w = 0; // every distance equal: a perfect lattice, as far from normal as it gets
        v.p = 0;
      } else {
        const sw = shapiroWilk(d);
        v.w = sw.w;
        v.p = sw.p;
      }
      v.wN = distances.n;
      if (v.w < c.prada.delta) v.parts[0] = c.prada.weight * (c.prada.floor + (1 - c.prada.floor) * ramp(c.prada.delta - v.w, 0, c.prada.wSpan));
      v.median = hi;
    }
    // Lattice spacing and recurring directions of the steps.
    v.steps = steps.n;
    if (steps.n >= c.steps.minSteps) {
      const lat = dominantLengths(steps.values, steps.n, c.steps.latticeTol, c.steps.latticeSizes);
      v.lattice = lat.share;
      v.latticeSizes = exactCopy(lat.centres);
      // Steps and runs per direction, oldest first, counted in per-serial scratch that is cleared again after.
      const counts = this.serialSteps;
      const runs = this.serialRuns;
      if (this.seenSerials.length < directions.n) this.seenSerials = new Uint16Array(directions.capacity);
      const seen = this.seenSerials;
      let distinct = 0;
      let previous = -1;
      for (let i = 0; i < directions.n; i++) {
        const serial = directions.values[(directions.head - directions.n + i + directions.capacity) % directions.capacity];
        if (counts[serial]++ === 0) seen[distinct++] = serial;
        if (i === 0 || serial !== previous) {
          runs[serial]++;
          if (i > 0) v.turns++;
        }
        previous = serial;
      }
      let along = 0;
      for (let k = 0; k < distinct; k++) {
        const serial = seen[k];
        const n = counts[serial];
        const enough = serial !== 0 && n >= c.steps.minDirectionRepeats && runs[serial] >= c.steps.minDirectionRuns;
        counts[serial] = 0;
        runs[serial] = 0;
        if (!enough) continue;
        v.directions++;
        along += n;
      }
      v.directionShare = along / directions.n;
      if (v.directions >= c.steps.minDirections) {
        v.parts[2] = ramp(v.directionShare, c.steps.directionLow, c.steps.directionHigh);
        // Few step sizes mean a lattice only along directions that recur run after run (a single sweep has one size).
        v.parts[1] = ramp(lat.share, c.steps.latticeLow, c.steps.latticeHigh);
      }
      v.dims = dirs.effectiveDimension();
      v.width = dirs.width;
      const cov = c.coverage;
      // Until the model's reference is ready its span is unknown, and so is whether a slice is unusual: the test abstains.
      const noneAt = trafficDims === null ? 0 : Math.min(cov.noneAt, cov.trafficShare * trafficDims);
      const fullAt = (cov.fullAt * noneAt) / cov.noneAt;
      v.trafficDims = trafficDims;
      if (v.turns >= cov.minTurns && noneAt > 0) v.parts[3] = cov.weight * ramp(noneAt - v.dims, 0, noneAt - fullAt);
    }
    // Repeats: the damper and the booster.
    v.repeatN = flags.n;
    v.repeats = flags.n ? flags.sum() / flags.n : 0;
    if (flags.n >= c.repeats.minEvents) {
      if (v.repeats >= c.repeats.humanShare) v.damp = c.repeats.damp;
      else if (v.repeats === 0) v.factor = c.repeats.boost;
    }
    const [normality, ...geometry] = v.parts;
    const base = 1 - geometry.reduce((q, s) => q * (1 - s), 1 - normality * v.damp);
    v.score = Math.min(1, base * v.factor);
    return v;
  }

  private evidence(v: View): string[] {
    if (!(v.score > 0)) return [];
    const c = this.config;
    const out: string[] = [];
    const [normality, lattice, directions, coverage] = v.parts;
    if (normality > 0) {
      out.push(
        v.w === 0
          ? `min-distance normality: all ${v.wN} distances to earlier queries are equal (${fmt(v.median, 3)}), a perfect lattice`
          : `min-distance normality W=${fmt(v.w)} < ${fmt(c.prada.delta)} over ${v.wN} queries (p=${v.p.toExponential(1)})`,
      );
    }
    if (lattice > 0) {
      out.push(`lattice spacing: ${pct(v.lattice)} of the last ${v.steps} steps have ${v.latticeSizes.length} sizes (${v.latticeSizes.map((s) => fmt(s, 3)).join(', ')})`);
    }
    if (directions > 0) {
      out.push(`repeated step directions: ${pct(v.directionShare)} of the last ${v.steps} steps run along ${v.directions} fixed directions, each in ${c.steps.minDirectionRuns}+ separate runs`);
    }
    if (coverage > 0) {
      const span = v.trafficDims ?? null;
      const traffic = span === null ? 'natural records use them all' : `steps between the model's traffic's queries span ${fmt(span, 1)}`;
      out.push(`space-filling coverage of a slice: the ${v.turns} turns among the last ${v.steps} steps span only ${fmt(v.dims, 1)} of ${v.width} sketch dimensions (${traffic})`);
    }
    if (v.damp < 1 && normality > 0) out.push(`${pct(v.repeats)} exact repeats in the last ${v.repeatN} queries, as people re-ask (normality evidence damped ×${fmt(v.damp)})`);
    if (v.factor > 1) out.push(`no exact repeat in the last ${v.repeatN} queries`);
    return out;
  }
}

function resize<T>(a: (T | null)[], n: number): (T | null)[] {
  return Array.from({ length: n }, (_, i) => a[i] ?? null);
}

/**
 * Step directions. Prototypes: up to `directionSlots` unit vectors with
 * decayed hit counts; a step collinear (|cos| ≥ directionCos) with one is
 * labelled with its serial, otherwise it replaces the weakest prototype
 * under a fresh serial, so natural traffic, whose steps point anywhere,
 * labels every step differently. Moments: the decayed second-moment matrix
 * of the unit steps that turn, for their effective dimension.
 */
class Directions {
  private protos: Float32Array;
  private moments: Float32Array;
  /** Turns not yet added to `moments` (`GridSweepState.turns`). */
  private turns: Float32Array;
  private readonly serial: number[];
  private readonly weight: number[];
  private next: number;
  private dim: number;
  private readonly slots: number;
  private readonly decay: number;

  constructor(
    state: GridSweepState,
    private readonly c: GridSweepConfig,
    /** The detector's scratch row for a step's unit vector. */
    private readonly unit: { row: Float32Array },
  ) {
    this.slots = c.steps.directionSlots;
    this.decay = 1 - 1 / c.steps.window;
    this.dim = state.protoDim;
    this.protos = state.protos as Float32Array;
    this.moments = state.moments as Float32Array;
    this.turns = state.turns ?? NO_VECTOR;
    this.serial = state.protoSerial.length === this.slots ? state.protoSerial : resize(state.protoSerial, this.slots).map((s) => s ?? 0);
    this.weight = state.protoWeight.length === this.slots ? state.protoWeight : resize(state.protoWeight, this.slots).map((s) => s ?? 0);
    this.next = state.nextSerial;
  }

  get width(): number {
    return this.dim;
  }

  effectiveDimension(): number {
    this.settle();
    return this.moments.length > 0 ? participationRatioUpper(this.moments, this.dim) : 0;
  }

  /** The step's direction serial; the step joins the moments only when it turns (its serial is not `previous`). */
  match(step: Float32Array, len: number, previous: number): number {
    const dim = step.length;
    if (dim !== this.dim) this.reset(dim);
    if (this.unit.row.length !== dim) this.unit.row = new Float32Array(dim);
    const unit = this.unit.row;
    for (let j = 0; j < dim; j++) unit[j] = step[j] / len;
    let best = -1;
    let weakest = 0;
    for (let s = 0; s < this.slots; s++) {
      this.weight[s] *= this.decay;
      if (this.weight[s] < this.weight[weakest]) weakest = s;
      if (best >= 0 || this.serial[s] === 0) continue;
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += step[j] * this.protos[s * dim + j];
      if (Math.abs(dot) / len >= this.c.steps.directionCos) best = s;
    }
    if (best < 0) {
      best = this.serial.indexOf(0) >= 0 ? this.serial.indexOf(0) : weakest;
      // Slots fill in order and a free slot's vector is never read: the array holds the slots in use.
      if ((best + 1) * dim > this.protos.length) {
        const grown = new Float32Array((best + 1) * dim);
        grown.set(this.protos);
        this.protos = grown;
      }
      this.protos.set(unit, best * dim);
      this.serial[best] = this.next;
      this.next = this.next >= 0xffff ? 1 : this.next + 1;
      this.weight[best] = 0;
    }
    this.weight[best] += 1;
    if (this.serial[best] !== previous) this.turn(unit, dim);
    return this.serial[best];
  }

  /** A turn into the moments, or held in `turns` while the moments are empty and the turns take less room. */
  private turn(unit: Float32Array, dim: number): void {
    if (this.moments.length > 0) {
      addOuterProductUpper(this.moments, unit, dim, this.decay);
      return;
    }
    const held = new Float32Array(this.turns.length + dim);
    held.set(this.turns);
    held.set(unit, this.turns.length);
    this.turns = held;
    if (held.length > (dim * (dim + 1)) / 2) this.settle();
  }

  /** The held turns added to the moments, oldest first, from a zero matrix: what adding each at its turn gave. */
  private settle(): void {
    if (this.turns.length === 0) return;
    const dim = this.dim;
    if (this.moments.length === 0) this.moments = new Float32Array((dim * (dim + 1)) / 2);
    for (let at = 0; at < this.turns.length; at += dim) addOuterProductUpper(this.moments, this.turns.subarray(at, at + dim), dim, this.decay);
    this.turns = NO_VECTOR;
  }

  private reset(dim: number): void {
    this.dim = dim;
    this.protos = NO_VECTOR;
    this.moments = NO_VECTOR;
    this.turns = NO_VECTOR;
    this.serial.fill(0);
    this.weight.fill(0);
  }

  /** Writes the directions back into `state`. */
  save(state: GridSweepState): void {
    state.protoDim = this.dim;
    state.protos = this.protos;
    state.moments = this.moments;
    state.turns = this.turns;
    state.protoSerial = this.serial;
    state.protoWeight = this.weight;
    state.nextSerial = this.next;
  }
}

/** An empty vector, shared: a zero-length array cannot be written in place, only replaced. */
const NO_VECTOR = new Float32Array(0);

/**
 * A state of the older snapshot form (vectors as base64) in typed arrays of their exact size: each set's
 * `n` rows, the direction slots in use, the moments' upper triangle. Its rings are converted when opened.
 */
function upgrade(state: GridSweepState): void {
  for (const set of state.sets) {
    if (!set || typeof set.rows !== 'string') continue;
    set.rows = exactly(unpackFloat32(set.rows, set.n * set.dim), set.n * set.dim);
  }
  const d = state.protoDim;
  let used = state.protoSerial.length;
  while (used > 0 && !state.protoSerial[used - 1]) used--;
  state.protos = d ? exactly(unpackFloat32(state.protos as string, used * d), used * d) : NO_VECTOR;
  if (typeof state.moments !== 'object') state.moments = d ? upperTriangle(unpackSymmetric(state.moments ?? '', d), d) : NO_VECTOR;
}

/** An older snapshot's last query and step (vectors, or base64 float32 in older ones still) as one run vector (`GridSweepState.last`). */
function upgradeLast(state: GridSweepState): void {
  const { model, sketch } = state.last as { model: string; sketch: Float32Array | string };
  const x = typeof sketch === 'string' ? unpackFloat32(sketch) : sketch;
  const step = typeof state.lastStep === 'string' ? unpackFloat32(state.lastStep) : (state.lastStep ?? null);
  state.last = { model, run: runOf(x, step)! };
  state.lastStep = undefined;
}

/** `a`'s first `n` values, in an array of exactly that length (`a` itself when it is). */
function exactly(a: Float32Array, n: number): Float32Array {
  return a.length === n ? a : a.slice(0, n);
}

/** The upper triangle, row by row, of a symmetric `d`×`d` matrix. */
function upperTriangle(m: Float32Array, d: number): Float32Array {
  const t = new Float32Array((d * (d + 1)) / 2);
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) t[upperIndex(i, j, d)] = m[i * d + j];
  return t;
}

export const gridSweep: DetectorDefinition<GridSweepConfig, GridSweepState> = {
  name: 'grid-sweep',
  description: 'PRADA min-distance normality, lattice spacing, repeated step directions, space-filling coverage and absence of repeats in the input sketches',
  configSchema: gridSweepConfigSchema,
  create: (config) => new GridSweepDetector(config),
};
