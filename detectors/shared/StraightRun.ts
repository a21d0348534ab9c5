import { packArray, unpackFloat32 } from '../../src/compute/packedVectors.ts';

/** The previous query's sketch prefix and the step that led to it (base64 float32, '' when none). */
export interface StraightRun {
  last: string;
  step: string;
}

/** Thresholds of a straight continuation: cosine between consecutive steps and the most their lengths may differ (a ratio ≥ 1). */
export interface StraightLimits {
  straightCos: number;
  straightRatio: number;
}

/**
 * Whether `x` (its first `dim` coordinates) continues the key's last step in a
 * straight line — the same direction and sense (cosine between the two steps ≥
 * `straightCos`) and about the same length (ratio within `straightRatio` either
 * way) — and remembers `x` and its step in `run`. An exact repeat of the last
 * input is never a continuation and leaves `run` as it was. A what-if analyst
 * sweeping one feature of a real record in even steps continues its step at
 * every query but the turns; natural and random queries almost never do.
 */
export function continuesStraight(run: StraightRun, x: ArrayLike<number>, dim: number, limits: StraightLimits): boolean {
  const prev = run.last ? unpackFloat32(run.last) : null;
  const head = Float32Array.from({ length: dim }, (_, j) => x[j]);
  if (!prev || prev.length !== dim) {
    run.last = packArray(head);
    run.step = '';
    return false;
  }
  const step = new Float32Array(dim);
  let len = 0;
  for (let j = 0; j < dim; j++) {
    step[j] = head[j] - prev[j];
    len += step[j] * step[j];
  }
  if (len === 0) return false; // an exact repeat: judged like any query, the run goes on
  const before = run.step ? unpackFloat32(run.step) : null;
  const straight = before !== null && continuesStep(before, step, len, limits);
  run.last = packArray(head);
  run.step = packArray(step);
  return straight;
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
