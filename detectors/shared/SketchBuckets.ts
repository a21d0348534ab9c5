import { z } from 'zod';
import { mulberry32 } from '../../src/gateway/RandomProjection.ts';
import { appended, exactCopy } from './appended.ts';
import type { BaselineOptions } from './EpochHistogram.ts';
import { compact } from './math.ts';

/**
 * Locality-sensitive buckets of input sketches: p-stable LSH (Datar,
 * Immorlica, Indyk & Mirrokni, "Locality-sensitive hashing scheme based on
 * p-stable distributions", SoCG 2004), h(x) = ⌊(a·x − μ)/(w·σ) + b⌋ on a few
 * seeded Gaussian directions a, with μ and σ the model-wide mean and spread
 * of a·x so that a cell is about one natural standard deviation wide. Unlike
 * sign random projections (SimHash), which only see the angle of x around a
 * centre, these cells also see how far out a query lies — what separates
 * queries spread over the whole input box from records on the data manifold.
 * The cell tuple is hashed into `buckets` slots.
 */
export const sketchBucketsSchema = z
  .object({
    /** Gaussian directions hashed together. */
    projections: z.number().int().min(1).max(8).default(3),
    /** Cell width in natural standard deviations along each direction. */
    width: z.number().positive().default(1),
    /** Slots the cell tuples are hashed into (the size of the model baseline). */
    buckets: z.number().int().min(16).max(4096).default(512),
    seed: z.number().int().default(0x51ed),
  })
  .strict()
  .prefault({});
export type SketchBucketsConfig = z.output<typeof sketchBucketsSchema>;

/**
 * Model-wide mean and spread of each LSH direction, learned like the other
 * baselines: accumulated per epoch, folded with a slow EWMA, frozen within
 * an epoch.
 */
export interface ProjectionMoments {
  epoch: number;
  sum: number[];
  sumSq: number[];
  count: number;
  mean: number[] | null;
  std: number[] | null;
}

export function createMoments(m: number): ProjectionMoments {
  return { epoch: -1, sum: new Array(m).fill(0), sumSq: new Array(m).fill(0), count: 0, mean: null, std: null };
}

export function advanceMoments(p: ProjectionMoments, ts: number, o: BaselineOptions): void {
  const epoch = Math.floor(ts / o.epochMs);
  if (p.epoch < 0) p.epoch = epoch;
  if (epoch <= p.epoch) return;
  p.epoch = epoch;
  if (p.count < o.minEpochSamples) return;
  const mean = p.sum.map((s) => s / p.count);
  const std = p.sumSq.map((s, j) => Math.sqrt(Math.max(s / p.count - mean[j] ** 2, 1e-12)));
  p.mean = p.mean ? p.mean.map((v, j) => compact((1 - o.alpha) * v + o.alpha * mean[j])) : mean.map(compact);
  p.std = p.std ? p.std.map((v, j) => compact((1 - o.alpha) * v + o.alpha * std[j])) : std.map(compact);
  p.sum.fill(0);
  p.sumSq.fill(0);
  p.count = 0;
}

export function addMoments(p: ProjectionMoments, proj: readonly number[]): void {
  for (let j = 0; j < proj.length; j++) {
    p.sum[j] += proj[j];
    p.sumSq[j] += proj[j] * proj[j];
  }
  p.count++;
}

const directionCache = new Map<string, { a: Float64Array[]; b: Float64Array }>();

let lastDirections: { dim: number; projections: number; seed: number; d: { a: Float64Array[]; b: Float64Array } } | null = null;

function directions(dim: number, c: SketchBucketsConfig) {
  // Called twice per query with the same arguments: the last answer is checked before building a cache key.
  const last = lastDirections;
  if (last && last.dim === dim && last.projections === c.projections && last.seed === c.seed) return last.d;
  const id = `${dim}:${c.projections}:${c.seed}`;
  let d = directionCache.get(id);
  if (!d) {
    const rand = mulberry32(c.seed + dim);
    const gauss = () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
    d = { a: Array.from({ length: c.projections }, () => Float64Array.from({ length: dim }, gauss)), b: Float64Array.from({ length: c.projections }, rand) };
    directionCache.set(id, d);
  }
  lastDirections = { dim, projections: c.projections, seed: c.seed, d };
  return d;
}

/** The sketch along each LSH direction (what the moments learn from), written into `out` (a caller's scratch, by default a new array). */
export function project(sketch: readonly number[], c: SketchBucketsConfig, out: number[] = []): number[] {
  const { a } = directions(sketch.length, c);
  out.length = a.length;
  for (let k = 0; k < a.length; k++) {
    const dir = a[k];
    let s = 0;
    for (let i = 0; i < sketch.length; i++) s += dir[i] * sketch[i];
    out[k] = s;
  }
  return out;
}

/** The bucket of a projected sketch, or −1 while the moments warm up. */
export function bucketOf(proj: readonly number[], dim: number, p: ProjectionMoments, c: SketchBucketsConfig): number {
  if (!p.mean || !p.std) return -1;
  const { b } = directions(dim, c);
  let h = 0x811c9dc5;
  for (let j = 0; j < proj.length; j++) {
    const cell = Math.floor((proj[j] - p.mean[j]) / (c.width * p.std[j]) + b[j]);
    h = Math.imul(h ^ (cell & 0xffff), 0x01000193) >>> 0;
    h = Math.imul(h ^ (cell >>> 16), 0x01000193) >>> 0;
  }
  return h % c.buckets;
}

/** A key's last few buckets, as a ring. */
export interface BucketRing {
  /**
   * Oldest first while it fills (a plain array of its exact length); once full, written round from `head`,
   * in a `Uint16Array` when it is `TYPED_RING` long or more (bucket ids are below 4096: 2 bytes an id, not 8),
   * and in a plain array otherwise. Older states hold a full ring as a plain array (made typed as `head`
   * comes round to 0).
   */
  ring: number[] | Uint16Array;
  head: number;
}

/** Shortest full ring kept in a `Uint16Array`: below it a plain array takes less (a small typed array costs about 180 bytes of heap beside its values). */
const TYPED_RING = 32;

/** A full ring's ids in a `Uint16Array` when there are `TYPED_RING` or more and each is an id it holds exactly, else null. */
function typedRing(ids: readonly number[]): Uint16Array | null {
  if (ids.length < TYPED_RING) return null;
  for (let i = 0; i < ids.length; i++) if (!isU16(ids[i])) return null;
  return Uint16Array.from(ids);
}

const isU16 = (x: number): boolean => Number.isInteger(x) && x >= 0 && x <= 0xffff;

export function createRing(): BucketRing {
  return { ring: [], head: 0 };
}

export function addToRing(r: BucketRing, bucket: number, size: number): void {
  if (r.ring.length < size) {
    // (A typed ring shorter than `size`: the ring size was raised; it fills again as a plain array.)
    const filling = appended(Array.isArray(r.ring) ? r.ring : Array.from(r.ring), bucket);
    // Full from now on, and written in place: compact, or at least without the spare room its pushes left.
    r.ring = filling.length === size ? (typedRing(filling) ?? exactCopy(filling)) : filling;
  } else {
    if (r.head === 0 && Array.isArray(r.ring)) r.ring = typedRing(r.ring) ?? r.ring;
    else if (!Array.isArray(r.ring) && !isU16(bucket)) r.ring = Array.from(r.ring);
    r.ring[r.head] = bucket;
    r.head = (r.head + 1) % size;
  }
}

/**
 * Scratch for `ringDistinct`, shared by every ring: the pass that last saw
 * each bucket. A per-ring map of bucket counts kept beside each key's ring
 * made the count a lookup, but cost more memory per key than the key's
 * detector state; a pass over a ring of at most `ringSize` ids is cheap.
 */
let marks = new Uint32Array(0);
let pass = 0;

/** Buckets are below `buckets` (≤ 4096); an id outside a sane range (a corrupt snapshot) is counted the slow way. */
const MAX_MARKED = 1 << 16;

/** Distinct buckets in the ring. */
export function ringDistinct(r: BucketRing): number {
  const ring: ArrayLike<number> & Iterable<number> = r.ring;
  if (pass === 0xffffffff) {
    marks.fill(0);
    pass = 0;
  }
  pass++;
  let n = 0;
  for (let i = 0; i < ring.length; i++) {
    const b = ring[i];
    if (!(Number.isInteger(b) && b >= 0 && b < MAX_MARKED)) return new Set(ring).size;
    if (b >= marks.length) {
      const grown = new Uint32Array(Math.min(MAX_MARKED, Math.max(b + 1, 2 * marks.length)));
      grown.set(marks);
      marks = grown;
    }
    if (marks[b] !== pass) {
      marks[b] = pass;
      n++;
    }
  }
  return n;
}

/**
 * Expected number of distinct buckets among n draws from `dist`:
 * Σⱼ 1 − (1 − pⱼ)ⁿ (the occupancy problem), with a small floor on each
 * bucket's mass so buckets the baseline never saw are not impossible.
 */
export function expectedDistinct(dist: readonly number[], n: number, floor = 1e-4): number {
  const norm = 1 + floor * dist.length;
  let e = 0;
  for (const p of dist) e += 1 - Math.pow(1 - (p + floor) / norm, n);
  return e;
}
