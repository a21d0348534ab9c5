import { z } from 'zod';
import { unpackFloat32 } from '../../src/compute/packedVectors.ts';
import { otherRow } from './otherRow.ts';

/**
 * Config of the straight-run test: the first `straightDim` sketch coordinates, cosine ≥ `straightCos`
 * between consecutive steps, lengths within `straightRatio` of each other.
 */
export const straightRunFields = {
  straightDim: z.number().int().min(2).max(64).default(8),
  straightCos: z.number().min(0).max(1).default(0.995),
  straightRatio: z.number().min(1).default(2.5),
};

/** Thresholds of a straight continuation: cosine between consecutive steps and the most their lengths may differ (a ratio ≥ 1). */
export interface StraightLimits {
  straightCos: number;
  straightRatio: number;
}

/**
 * A key's `StraightRun`, decoded once so that a detector can test every query
 * of a batch without packing and unpacking the run at each one; `save` writes
 * it back. `continues(x)` says whether `x` (its first `dim` coordinates)
 * continues the key's last step in a straight line — the same direction and
 * sense (cosine between the two steps ≥ `straightCos`) and about the same
 * length (ratio within `straightRatio` either way) — and remembers `x` and its
 * step. An exact repeat of the last input is never a continuation and leaves
 * the run as it was. A what-if analyst sweeping one feature of a real record
 * in even steps continues its step at every query but the turns; natural and
 * random queries almost never do.
 */
export class StraightCursor {
  /** The last sketch prefix and the step that led to it, in one vector (`StraightRunState.run`). */
  private run: Float32Array | null;
  /**
   * Two buffers owned by the cursor and written in turn, so that a query costs no allocation: `run` is
   * always one of them or the vector the state held (read, never written). `save` hands it to the state
   * and lets go of both.
   */
  private readonly runs: [Float32Array, Float32Array] = [NO_VECTOR, NO_VECTOR];

  constructor(state: StraightRunState) {
    this.run = state.run !== undefined ? state.run : runOf(vectorOf(state.last), vectorOf(state.step));
  }

  continues(x: ArrayLike<number>, dim: number, limits: StraightLimits): boolean {
    const prev = this.run;
    const next = otherRow(this.runs, prev, 2 * dim);
    for (let j = 0; j < dim; j++) next[j] = x[j];
    if (!prev || prev.length !== 2 * dim) {
      next.fill(0, dim);
      this.run = next;
      return false;
    }
    let len = 0;
    for (let j = 0; j < dim; j++) {
      next[dim + j] = next[j] - prev[j];
      len += next[dim + j] * next[dim + j];
    }
    if (len === 0) return false; // an exact repeat: judged like any query, the run goes on
    const straight = hasStep(prev, dim) && continuesAt(prev, next, dim, dim, len, limits);
    this.run = next;
    return straight;
  }

  /**
   * Writes the run back (its own exact-size vector, never changed in place afterwards; null when none), in
   * place of an older snapshot's `last` and `step`. The cursor's buffer goes to the state as it is (no copy):
   * it lets go of both, so a later query writes new ones.
   */
  save(state: StraightRunState): void {
    state.run = this.run;
    if (state.last !== undefined || state.step !== undefined) state.last = state.step = undefined;
    this.runs[0] = this.runs[1] = NO_VECTOR;
  }
}

const NO_VECTOR = new Float32Array(0);

/** A stored sketch prefix or step of an older snapshot: a vector, base64 float32 (older still), or none ('' or null). */
function vectorOf(v: string | Float32Array | null | undefined): Float32Array | null {
  if (typeof v === 'string') return v ? unpackFloat32(v) : null;
  return v && v.length > 0 ? v : null;
}

/** A sketch prefix and the step that led to it as one run vector of their own (`StraightRunState.run`): a step of zeros when none. */
export function runOf(last: Float32Array | null, step: Float32Array | null): Float32Array | null {
  if (!last) return null;
  const run = new Float32Array(2 * last.length);
  run.set(last);
  if (step && step.length === last.length) run.set(step, last.length);
  return run;
}

/** Whether a run vector holds a step: a step is never all zeros (an exact repeat leaves the run as it was). */
export function hasStep(run: Float32Array, dim: number): boolean {
  for (let j = dim; j < 2 * dim; j++) if (run[j] !== 0) return true;
  return false;
}

/**
 * Whether `step` (its squared length `stepSq` > 0) continues `before` in a straight line: cosine between
 * them ≥ `straightCos` and lengths within `straightRatio` of each other either way. Steps of different
 * widths never continue each other.
 */
export function continuesStep(before: ArrayLike<number>, step: ArrayLike<number>, stepSq: number, limits: StraightLimits): boolean {
  if (before.length !== step.length) return false;
  return continuesAt(before, step, 0, step.length, stepSq, limits);
}

/** `continuesStep` of the `width` values of `before` and `step` from `from` on (a run vector's step half). */
function continuesAt(before: ArrayLike<number>, step: ArrayLike<number>, from: number, width: number, stepSq: number, limits: StraightLimits): boolean {
  let dot = 0;
  let lenBefore = 0;
  for (let j = from; j < from + width; j++) {
    dot += step[j] * before[j];
    lenBefore += before[j] * before[j];
  }
  const ratio = Math.sqrt(stepSq / lenBefore);
  const r = limits.straightRatio;
  return lenBefore > 0 && dot / Math.sqrt(stepSq * lenBefore) >= limits.straightCos && ratio <= r && ratio >= 1 / r;
}

/**
 * Where a detector keeps a key's straight run: `run`, the last sketch prefix and the step that led to it,
 * `dim` float32 each in one vector of 2·dim (the step all zeros before there is one), as `BatchStraightRuns`
 * writes it; null when none. One vector rather than two: a small typed array costs far more heap than its
 * values. Absent in older snapshots, which hold `last` and `step` apart instead (Float32Arrays, null when
 * none; older still, base64 float32 strings, '' when none), read too and cleared at the next save.
 */
export interface StraightRunState {
  run?: Float32Array | null;
  last?: string | Float32Array | null;
  step?: string | Float32Array | null;
}

/** The straight-run test of a detector's config: its limits and, for `continues`, the sketch prefix it compares. */
export interface StraightTest extends StraightLimits {
  straightDim?: number;
}

/**
 * The run each key's batch ended on, by the batch's events of the key (the
 * array the pipeline hands every behavioural detector alike): detectors that
 * test the same queries over the same prefix end on equal runs, and the
 * later ones hold the first one's vector rather than one each (a small typed
 * array costs far more heap than its values). A run is never written in place
 * once saved, so sharing it is safe; the entries go with the batch's arrays.
 */
const savedRuns = new WeakMap<object, Float32Array>();

/** `run`, or an equal run saved for the same batch of the same key (equal bit for bit: -0 is not 0). */
function sharedRun(batch: object, run: Float32Array | null | undefined): Float32Array | null | undefined {
  if (!run) return run;
  const other = savedRuns.get(batch);
  if (other === undefined) {
    savedRuns.set(batch, run);
    return run;
  }
  if (other === run || other.length !== run.length) return run;
  for (let j = 0; j < run.length; j++) if (!Object.is(other[j], run[j])) return run;
  return other;
}

/**
 * The straight runs of one batch's keys (one per `KeyGroup`, in order): each
 * key's run is read at its first query of the batch and written back by
 * `save`, once, when the batch is done. Given the groups' event arrays
 * (`batches`), a run equal to one another detector saved for the same key's
 * batch is saved as that one (`savedRuns`).
 */
export class BatchStraightRuns {
  private readonly cursors: (StraightCursor | undefined)[];

  constructor(
    private readonly states: readonly StraightRunState[],
    private readonly test: StraightTest,
    private readonly batches?: readonly object[],
  ) {
    this.cursors = new Array(states.length);
  }

  /**
   * Whether key `g`'s query continues its last step in a straight line over the first `straightDim`
   * coordinates of its sketch; never for a sketch narrower than 2 or with a non-finite prefix.
   */
  continues(g: number, sketch: readonly number[]): boolean {
    const dim = Math.min(this.test.straightDim ?? 0, sketch.length);
    if (dim < 2) return false;
    for (let j = 0; j < dim; j++) if (!Number.isFinite(sketch[j])) return false;
    return this.continuesPrefix(g, sketch, dim);
  }

  /** `StraightCursor.continues` for key `g`: `x`'s first `dim` coordinates, already read and checked by the caller. */
  continuesPrefix(g: number, x: ArrayLike<number>, dim: number): boolean {
    let cursor = this.cursors[g];
    if (!cursor) this.cursors[g] = cursor = new StraightCursor(this.states[g]);
    return cursor.continues(x, dim, this.test);
  }

  save(): void {
    this.cursors.forEach((cursor, g) => {
      if (!cursor) return;
      const state = this.states[g];
      cursor.save(state);
      if (this.batches) state.run = sharedRun(this.batches[g], state.run);
    });
  }
}
