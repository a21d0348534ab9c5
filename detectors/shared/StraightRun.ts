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
  private last: Float32Array | null;
  private step: Float32Array | null;
  /**
   * Two buffers each for the sketch prefix and the step, owned by the cursor and written in turn, so that
   * a query costs no allocation: `last` and `step` are always one of them or the vectors the state held
   * (read, never written). `save` hands them to the state and lets go of both pairs.
   */
  private readonly heads: [Float32Array, Float32Array] = [NO_VECTOR, NO_VECTOR];
  private readonly steps: [Float32Array, Float32Array] = [NO_VECTOR, NO_VECTOR];
  /** Whether `last` or `step` changed since the cursor read them from the state. */
  private changed = false;

  constructor(run: StraightRunState) {
    this.last = vectorOf(run.last);
    this.step = vectorOf(run.step);
  }

  continues(x: ArrayLike<number>, dim: number, limits: StraightLimits): boolean {
    const head = otherRow(this.heads, this.last, dim);
    for (let j = 0; j < dim; j++) head[j] = x[j];
    const prev = this.last;
    if (!prev || prev.length !== dim) {
      this.last = head;
      this.step = null;
      this.changed = true;
      return false;
    }
    const step = otherRow(this.steps, this.step, dim);
    let len = 0;
    for (let j = 0; j < dim; j++) {
      step[j] = head[j] - prev[j];
      len += step[j] * step[j];
    }
    if (len === 0) return false; // an exact repeat: judged like any query, the run goes on
    const straight = this.step !== null && continuesStep(this.step, step, len, limits);
    this.last = head;
    this.step = step;
    this.changed = true;
    return straight;
  }

  /**
   * Writes the run back as vectors (each its own exact-size array, never changed in place afterwards); null when none.
   * The cursor's buffers go to the state as they are (no copy): it lets go of them, so a later query writes new ones.
   */
  save(run: StraightRunState): void {
    run.last = this.last;
    run.step = this.step;
    this.heads[0] = this.heads[1] = NO_VECTOR;
    this.steps[0] = this.steps[1] = NO_VECTOR;
  }
}

const NO_VECTOR = new Float32Array(0);

/** A stored sketch prefix or step: a vector, base64 float32 (the older form), or none ('' or null). */
function vectorOf(v: string | Float32Array | null | undefined): Float32Array | null {
  if (typeof v === 'string') return v ? unpackFloat32(v) : null;
  return v && v.length > 0 ? v : null;
}

/**
 * Whether `step` (its squared length `stepSq` > 0) continues `before` in a straight line: cosine between
 * them ≥ `straightCos` and lengths within `straightRatio` of each other either way. Steps of different
 * widths never continue each other.
 */
export function continuesStep(before: ArrayLike<number>, step: ArrayLike<number>, stepSq: number, limits: StraightLimits): boolean {
  if (before.length !== step.length) return false;
  let dot = 0;
  let lenBefore = 0;
  for (let j = 0; j < step.length; j++) {
    dot += step[j] * before[j];
    lenBefore += before[j] * before[j];
  }
  const ratio = Math.sqrt(stepSq / lenBefore);
  const r = limits.straightRatio;
  return lenBefore > 0 && dot / Math.sqrt(stepSq * lenBefore) >= limits.straightCos && ratio <= r && ratio >= 1 / r;
}

/**
 * Where a detector keeps a key's straight run: optional, since older snapshots have none. Float32Arrays
 * (null when none), as `BatchStraightRuns` writes them; older snapshots hold base64 float32 strings ('' when
 * none), read too.
 */
export interface StraightRunState {
  last?: string | Float32Array | null;
  step?: string | Float32Array | null;
}

/** The straight-run test of a detector's config: its limits and, for `continues`, the sketch prefix it compares. */
export interface StraightTest extends StraightLimits {
  straightDim?: number;
}

/**
 * The straight runs of one batch's keys (one per `KeyGroup`, in order): each
 * key's run is read at its first query of the batch and written back by
 * `save`, once, when the batch is done.
 */
export class BatchStraightRuns {
  private readonly cursors: (StraightCursor | undefined)[];

  constructor(
    private readonly states: readonly StraightRunState[],
    private readonly test: StraightTest,
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
    this.cursors.forEach((cursor, g) => cursor?.save(this.states[g]));
  }
}
