/**
 * Typed arrays as base64 strings, the compact form vector state takes in
 * JSON snapshots: a float32 row costs 4 bytes (5⅓ in base64) instead of
 * 8–12 characters per number, and decodes straight into the Float32Array
 * the Compute kernels take.
 */

type Packed = Float32Array | Uint32Array | Uint16Array | Uint8Array;

/** The bytes of a typed array (platform order: little-endian on every machine Node supports in practice), as base64. */
export function packArray(a: Packed): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

/** A packed float32 array, copied into a fresh aligned array of at least `capacity` elements (the rest zero). */
export function unpackFloat32(s: string, capacity = 0): Float32Array {
  const b = Buffer.from(s, 'base64');
  const n = b.length >> 2;
  const out = new Float32Array(Math.max(n, capacity));
  new Uint8Array(out.buffer, 0, n * 4).set(b.subarray(0, n * 4));
  return out;
}

/** A symmetric `d`×`d` row-major float32 matrix, packed as its upper triangle (row by row, i ≤ j): about half the characters. */
export function packUpperTriangle(m: Float32Array, d: number): string {
  const t = new Float32Array((d * (d + 1)) / 2);
  let k = 0;
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) t[k++] = m[i * d + j];
  return packArray(t);
}

/**
 * The full `d`×`d` matrix of `packUpperTriangle`'s string, mirrored; a
 * string of all d² entries (as older snapshots hold) is taken as it is, and
 * an empty one gives zeros.
 */
export function unpackSymmetric(s: string, d: number): Float32Array {
  const packed = unpackFloat32(s);
  if (packed.length !== (d * (d + 1)) / 2 || d === 1) return packed.length >= d * d ? packed : unpackFloat32(s, d * d);
  const m = new Float32Array(d * d);
  let k = 0;
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      m[i * d + j] = packed[k];
      m[j * d + i] = packed[k++];
    }
  }
  return m;
}

/**
 * Packed float32 rows of `dim` with `x`'s row at `xo` appended, keeping the newest `cap` rows (the
 * bounded row lists detector state keeps, e.g. held or recent sketches).
 */
export function appendRow(rows: Float32Array, x: ArrayLike<number>, xo: number, dim: number, cap: number): string {
  const keep = Math.min(Math.floor(rows.length / dim), cap - 1);
  const next = new Float32Array((keep + 1) * dim);
  next.set(rows.subarray(rows.length - keep * dim));
  for (let j = 0; j < dim; j++) next[keep * dim + j] = x[xo + j];
  return packArray(next);
}

const MAKERS = {
  f32: (n: number) => new Float32Array(n),
  u32: (n: number) => new Uint32Array(n),
  u16: (n: number) => new Uint16Array(n),
  u8: (n: number) => new Uint8Array(n),
} as const;
export type RingKind = keyof typeof MAKERS;

/** A fixed-capacity ring of numbers as it sits in JSON state. */
export interface PackedRing {
  /** The values, oldest first, base64 of the typed array (platform byte order, little-endian in practice). */
  data: string;
}

/**
 * A ring buffer of the most recent `capacity` values, held as a typed array
 * while a batch runs and packed to base64 between batches. Opening a ring
 * saved with another capacity keeps its newest values.
 */
export class Ring<K extends RingKind = RingKind> {
  readonly values: ReturnType<(typeof MAKERS)[K]>;
  private head = 0;
  n = 0;

  constructor(readonly kind: K, readonly capacity: number, saved?: PackedRing) {
    this.values = MAKERS[kind](capacity) as ReturnType<(typeof MAKERS)[K]>;
    if (saved?.data) {
      const bytesPer = this.values.BYTES_PER_ELEMENT;
      const b = Buffer.from(saved.data, 'base64');
      const stored = Math.floor(b.length / bytesPer);
      const keep = Math.min(stored, capacity);
      const all = MAKERS[kind](stored) as Packed;
      new Uint8Array(all.buffer).set(b.subarray(0, stored * bytesPer));
      (this.values as Packed).set(all.subarray(stored - keep));
      this.n = keep;
      this.head = keep % capacity;
    }
  }

  push(v: number): void {
    this.values[this.head] = v;
    this.head = (this.head + 1) % this.capacity;
    if (this.n < this.capacity) this.n++;
  }

  includes(v: number): boolean {
    for (let i = 0; i < this.n; i++) if (this.values[i] === v) return true;
    return false;
  }

  sum(): number {
    let s = 0;
    for (let i = 0; i < this.n; i++) s += this.values[i];
    return s;
  }

  /** Oldest first. */
  ordered(): Packed {
    const v = this.values as Packed;
    if (this.n < this.capacity) return v.slice(0, this.n);
    const out = MAKERS[this.kind](this.capacity) as Packed;
    out.set(v.subarray(this.head), 0);
    out.set(v.subarray(0, this.head), this.capacity - this.head);
    return out;
  }

  pack(): PackedRing {
    return { data: packArray(this.ordered()) };
  }
}
