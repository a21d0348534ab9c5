import { z } from 'zod';
import { mulberry32 } from '../../src/gateway/RandomProjection.ts';
import { appended } from './appended.ts';
import type { BaselineOptions } from './EpochHistogram.ts';
import { compact, compactInto, l2 } from './math.ts';
import { DOUBLE_ZERO } from '../../src/state/doubleZero.ts';

/**
 * A key's query geometry, summarised so that keys whose queries are alike
 * can be grouped even when each is small (a Sybil campaign spread over many
 * keys): the dominant direction of its successive steps (a lattice or
 * one-feature sweep steps along few fixed directions; SimHash of the step's
 * line, Charikar, STOC 2002), else the shape of its cloud of queries against
 * the model's (RMS distance from the model centre, and the direction of its
 * centroid's offset). Keys whose geometry says nothing special get no group.
 */
export const geometrySchema = z
  .object({
    /** Queries a key needs before it is grouped. */
    minEvents: z.number().int().positive().default(20),
    /** SimHash bits of a step direction (after fixing its sign). */
    stepBits: z.number().int().min(2).max(16).default(8),
    /** Share of a key's steps along one direction bucket for that direction to define its group. */
    stepShareMin: z.number().min(0).max(1).default(0.3),
    /** Direction buckets a key tracks (Misra–Gries summary; bounds the state). */
    dirSlots: z.number().int().min(1).max(32).default(4),
    /** Effective window (queries) of the step counts and of the centroid. */
    window: z.number().int().positive().default(200),
    /** |log2(key RMS / model RMS)| from which the spread defines a group. */
    rmsLog2Min: z.number().min(0).default(0.5),
    /** Centroid offset, in model RMS, from which its direction defines a group… */
    offsetMin: z.number().min(0).default(0.5),
    /** …provided it is this many standard errors (key RMS / √queries) away from the centre. */
    offsetSe: z.number().min(0).default(3),
    offsetBits: z.number().int().min(1).max(8).default(3),
    /** Successive steps count as a halving (a bisection) within this ratio band and |cos|. */
    halvingRatioMin: z.number().positive().default(0.35),
    halvingRatioMax: z.number().positive().default(0.65),
    halvingMinAbsCos: z.number().min(0).max(1).default(0.97),
    seed: z.number().int().default(0x6e0),
  })
  .strict()
  .prefault({});
export type GeometryConfig = z.output<typeof geometrySchema>;

export interface GeometryState {
  n: number;
  prev: number[] | null;
  /** Last step (unit vector) and its length. */
  lastDir: number[] | null;
  lastLen: number;
  /** Steps counted (decayed with the direction counts). */
  steps: number;
  /** Misra–Gries counters of step-direction buckets. */
  dirs: { b: number; c: number }[];
  /** EWMA of the sketch and of its squared distance from the model centre, over `m` queries. */
  centroid: number[] | null;
  meanSq: number;
  m: number;
}

export function createGeometry(): GeometryState {
  return { n: 0, prev: null, lastDir: null, lastLen: DOUBLE_ZERO, steps: DOUBLE_ZERO, dirs: [], centroid: null, meanSq: DOUBLE_ZERO, m: 0 };
}

/** The model's sketch centre and RMS radius, learned per epoch like the other baselines. */
export interface ShapeBaseline {
  epoch: number;
  sum: number[];
  sumSq: number;
  count: number;
  center: number[] | null;
  rms: number;
}

export function createShapeBaseline(): ShapeBaseline {
  return { epoch: -1, sum: [], sumSq: DOUBLE_ZERO, count: 0, center: null, rms: DOUBLE_ZERO };
}

export function advanceShape(s: ShapeBaseline, ts: number, o: BaselineOptions): void {
  const epoch = Math.floor(ts / o.epochMs);
  if (s.epoch < 0) s.epoch = epoch;
  if (epoch <= s.epoch) return;
  s.epoch = epoch;
  if (s.count < o.minEpochSamples) return;
  const mean = s.sum.map((v) => v / s.count);
  const rms = Math.sqrt(Math.max(s.sumSq / s.count - mean.reduce((a, v) => a + v * v, 0), 1e-12));
  s.center = s.center && s.center.length === mean.length ? s.center.map((v, i) => compact((1 - o.alpha) * v + o.alpha * mean[i])) : mean.map(compact);
  s.rms = compact(s.rms > 0 ? (1 - o.alpha) * s.rms + o.alpha * rms : rms);
  s.sum = [];
  s.sumSq = 0;
  s.count = 0;
}

export function addShape(s: ShapeBaseline, sketch: readonly number[]): void {
  if (s.sum.length !== sketch.length) {
    if (s.count > 0) return; // a second sketch width for one model: ignore it
    s.sum = new Array(sketch.length).fill(0);
  }
  let sq = 0;
  for (let i = 0; i < sketch.length; i++) {
    s.sum[i] += sketch[i];
    sq += sketch[i] * sketch[i];
  }
  s.sumSq += sq;
  s.count++;
}

/** Hyperplanes built so far, one entry per (dim, count, seed): a handful per process, found by a scan (no key string per query). */
const planeSets: { dim: number; count: number; seed: number; p: Float64Array[] }[] = [];
function planes(dim: number, count: number, seed: number): Float64Array[] {
  for (const set of planeSets) if (set.dim === dim && set.count === count && set.seed === seed) return set.p;
  const rand = mulberry32(seed + dim);
  const gauss = () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
  const p = Array.from({ length: count }, () => Float64Array.from({ length: dim }, gauss));
  planeSets.push({ dim, count, seed, p });
  return p;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** SimHash of a line (u and −u alike): the first plane fixes the sign, the next `bits` give the bucket. */
function lineBucket(u: Float64Array, bits: number, seed: number): number {
  const p = planes(u.length, bits + 1, seed);
  const sign = dot(p[0], u) >= 0 ? 1 : -1;
  let b = 0;
  for (let j = 0; j < bits; j++) if (sign * dot(p[j + 1], u) >= 0) b |= 1 << j;
  return b;
}

function vectorBucket(v: Float64Array, bits: number, seed: number): number {
  const p = planes(v.length, bits, seed ^ 0x5a5a);
  let b = 0;
  for (let j = 0; j < bits; j++) if (dot(p[j], v) >= 0) b |= 1 << j;
  return b;
}

/**
 * Feeds one query; returns whether its step halved the previous one along
 * the same line (a bisection step, Lowd & Meek, KDD 2005).
 */
export function observeGeometry(g: GeometryState, sketch: readonly number[], shape: ShapeBaseline, c: GeometryConfig): boolean {
  if (sketch.length === 0) return false;
  g.n++;
  let halving = false;
  if (g.prev && g.prev.length === sketch.length) {
    const len = l2(sketch, g.prev);
    if (len > 0) {
      const prev = g.prev;
      const u = scratch(sketch.length);
      for (let i = 0; i < sketch.length; i++) u[i] = (sketch[i] - prev[i]) / len;
      if (g.lastDir && g.lastLen > 0) {
        const ratio = len / g.lastLen;
        halving = ratio >= c.halvingRatioMin && ratio <= c.halvingRatioMax && Math.abs(dot(u, g.lastDir)) >= c.halvingMinAbsCos;
      }
      countDirection(g, lineBucket(u, c.stepBits, c.seed), c);
      // State arrays are updated in place (same values as a fresh copy; nothing else holds them).
      g.lastDir = compactInto(g.lastDir, u);
      g.lastLen = compact(len);
    }
  }
  g.prev = compactInto(g.prev, sketch);
  if (shape.center && shape.center.length === sketch.length) {
    if (!g.centroid || g.centroid.length !== sketch.length) g.m = 0;
    g.m++;
    const a = 1 / Math.min(g.m, c.window);
    const center = shape.center;
    if (g.m === 1) g.centroid = compactInto(g.centroid, sketch);
    else {
      const centroid = g.centroid as number[];
      for (let i = 0; i < centroid.length; i++) centroid[i] = compact(centroid[i] + a * (sketch[i] - centroid[i]));
    }
    let d2 = 0;
    for (let i = 0; i < sketch.length; i++) d2 += (sketch[i] - center[i]) ** 2;
    g.meanSq = compact(g.meanSq + a * (d2 - g.meanSq));
  }
  return halving;
}

let scratchArray = new Float64Array(0);
/**
 * A reused array of `n` numbers for a step direction that lives only within one call: typed, so that the
 * code reading it sees one kind of array (a plain array changed kind as it met its first fraction, and
 * the optimised code that had read the other kind was thrown away).
 */
function scratch(n: number): Float64Array {
  if (scratchArray.length !== n) scratchArray = new Float64Array(n);
  return scratchArray;
}

function countDirection(g: GeometryState, bucket: number, c: GeometryConfig): void {
  g.steps++;
  const dirs = g.dirs;
  let slot = -1;
  for (let k = 0; k < dirs.length && slot < 0; k++) if (dirs[k].b === bucket) slot = k;
  if (slot >= 0) dirs[slot].c++;
  else if (dirs.length < c.dirSlots) g.dirs = appended(dirs, { b: bucket, c: 1 + DOUBLE_ZERO });
  else {
    // Misra–Gries: a new item decrements every counter; empty counters free their slot (in place, in order).
    let kept = 0;
    for (let k = 0; k < dirs.length; k++) {
      if (--dirs[k].c > 0) dirs[kept++] = dirs[k];
    }
    if (kept < dirs.length) dirs.length = kept;
  }
  if (g.steps > 2 * c.window) {
    g.steps = compact(g.steps / 2);
    for (const d of g.dirs) d.c = compact(d.c / 2);
  }
}

/** What groups a key with others, in words and as an entity id suffix. */
export interface GeometryGroup {
  id: string;
  describe: string;
}

/** The key's geometry group, or null when its geometry is unremarkable or not yet known. */
export function geometryGroup(g: GeometryState, shape: ShapeBaseline, c: GeometryConfig): GeometryGroup | null {
  return classify(g, shape, c, true) as GeometryGroup | null;
}

/** `geometryGroup(…)?.id` without building the description. */
export function geometryGroupId(g: GeometryState, shape: ShapeBaseline, c: GeometryConfig): string | null {
  return classify(g, shape, c, false) as string | null;
}

function classify(g: GeometryState, shape: ShapeBaseline, c: GeometryConfig, described: boolean): GeometryGroup | string | null {
  if (g.n < c.minEvents || g.m < c.minEvents) return null;
  let top: { b: number; c: number } | undefined;
  for (const d of g.dirs) if (!top || d.c > top.c) top = d;
  if (top && g.steps > 0 && top.c / g.steps >= c.stepShareMin) {
    const id = stepId(top.b);
    return described ? { id, describe: `${Math.round((100 * top.c) / g.steps)}% of steps along one direction (bucket ${top.b})` } : id;
  }
  if (!shape.center || !g.centroid || shape.rms <= 0 || g.centroid.length !== shape.center.length) return null;
  const ratio = Math.sqrt(g.meanSq) / shape.rms;
  const rmsClass = Math.trunc(Math.log2(Math.max(ratio, 1e-6)) / c.rmsLog2Min);
  const center = shape.center;
  const offset = scratch(g.centroid.length);
  for (let i = 0; i < offset.length; i++) offset[i] = g.centroid[i] - center[i];
  const off = l2(offset) / shape.rms;
  const offsetShown = off >= c.offsetMin && off >= (c.offsetSe * ratio) / Math.sqrt(Math.min(g.m, 2 * c.window - 1));
  if (rmsClass === 0 && !offsetShown) return null;
  const id = shapeId(rmsClass, offsetShown ? vectorBucket(offset, c.offsetBits, c.seed) : -1);
  return described ? { id, describe: `queries ${ratio.toFixed(2)}x the model's spread, centroid offset ${off.toFixed(2)}` } : id;
}

/** Group ids, built once each (a key's group is asked for at every query). */
const stepIds: string[] = [];
const shapeIds = new Map<number, Map<number, string>>();

function stepId(bucket: number): string {
  return (stepIds[bucket] ??= `step:${bucket}`);
}

/** `shape:<rmsClass>:<direction bucket>`, or `…:c` for a centred cloud (`bucket` −1). */
function shapeId(rmsClass: number, bucket: number): string {
  let byBucket = shapeIds.get(rmsClass);
  if (!byBucket) shapeIds.set(rmsClass, (byBucket = new Map()));
  let id = byBucket.get(bucket);
  if (id === undefined) byBucket.set(bucket, (id = `shape:${rmsClass}:${bucket < 0 ? 'c' : bucket}`));
  return id;
}
