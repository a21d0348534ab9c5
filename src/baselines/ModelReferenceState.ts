/** Version of the persisted reference; a snapshot of another version is not read (the caller logs it and starts afresh). */
export const REFERENCE_VERSION = 1;

/**
 * A model's reference as persisted (plain JSON, snapshotted with the
 * model's aggregate entity): members frozen within an event-time epoch and
 * the epoch's weighted sample of offered queries. Each member and pool
 * record is `recordStride(s)` float32: the query's sketch prefix (`dim`
 * coordinates, the ones neighbour searches compare), the answer's
 * top-1/top-2 margin and normalised entropy and its label (NaN when not a
 * usable answer), the bits of the hashes of its key, network and tenant (0:
 * none), its priority in the epoch's sample, then the sketch's further
 * coordinates up to `width` (the ones only the model's covariance reads).
 * Ceiling: 2 × size × (width + 7) float32 as base64, ≈ 127 kB of JSON at
 * the defaults, one per model.
 */
export interface ModelReferenceState {
  v: typeof REFERENCE_VERSION;
  /** Sketch coordinates of every record that neighbour searches compare (0 until the first offered query fixes it). */
  dim: number;
  /**
   * Sketch coordinates every record keeps, `dim` or more (fixed with `dim`); absent in references written
   * before it existed, which keep `dim`.
   */
  width?: number;
  /** Members, `n` records, base64. */
  rows: string;
  n: number;
  /** Queries ever offered, decayed like the members (`alpha` per fold). */
  samples: number;
  /** Event-time epoch being sampled (−1 before the first query). */
  epoch: number;
  /** The epoch's weighted sample: `poolN` records of the `poolSeen` offered, base64. */
  pool: string;
  poolN: number;
  poolSeen: number;
  /** State of the reference's xorshift32 generator. */
  rng: number;
}

/** Record layout: column offsets after the `dim` sketch coordinates; the coordinates past `dim` follow the columns. */
export const COL = { margin: 0, entropy: 1, label: 2, key: 3, network: 4, tenant: 5, priority: 6 } as const;
export const EXTRA_COLUMNS = 7;

/** Sketch coordinates each record keeps. */
export function widthOf(s: Pick<ModelReferenceState, 'dim' | 'width'>): number {
  return Math.max(s.dim, s.width ?? 0);
}

/** Float32 values per record. */
export function recordStride(s: Pick<ModelReferenceState, 'dim' | 'width'>): number {
  return widthOf(s) + EXTRA_COLUMNS;
}

/** Offset within a record of sketch coordinate `j` (< width). */
export function coordinateOffset(dim: number, j: number): number {
  return j < dim ? j : j + EXTRA_COLUMNS;
}

export function createReferenceState(seed: number): ModelReferenceState {
  return { v: REFERENCE_VERSION, dim: 0, rows: '', n: 0, samples: 0, epoch: -1, pool: '', poolN: 0, poolSeen: 0, rng: seed >>> 0 || 1 };
}

/** What is wrong with a restored reference, or null when it can be read. */
export function referenceStateProblem(s: unknown): string | null {
  if (typeof s !== 'object' || s === null) return 'not an object';
  const r = s as Record<string, unknown>;
  if (r.v !== REFERENCE_VERSION) return `version ${JSON.stringify(r.v)}, expected ${REFERENCE_VERSION}`;
  for (const f of ['dim', 'n', 'samples', 'epoch', 'poolN', 'poolSeen', 'rng'] as const) {
    if (typeof r[f] !== 'number' || !Number.isFinite(r[f])) return `field '${f}' is not a finite number`;
  }
  for (const f of ['rows', 'pool'] as const) if (typeof r[f] !== 'string') return `field '${f}' is not a string`;
  if (r.width !== undefined && (typeof r.width !== 'number' || !Number.isInteger(r.width) || r.width < (r.dim as number))) {
    return `field 'width' is not an integer of at least dim`;
  }
  return null;
}

/** The reference's one random generator (xorshift32; Marsaglia 2003): a uniform draw in (0,1). */
export function nextUniform(s: ModelReferenceState): number {
  let x = s.rng | 0 || 0x2545f491;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  s.rng = x >>> 0;
  return (s.rng + 0.5) / 4294967296;
}
