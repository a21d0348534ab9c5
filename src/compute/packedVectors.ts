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
  return unpackArray(s, 'f32', capacity);
}

/**
 * The whole elements of base64 `s` (as `Buffer.from(s, 'base64')` reads it) in a fresh array of at
 * least `capacity` of them, the rest zero. State is unpacked at every batch: the bytes are decoded
 * straight into the result, with no Buffer in between, whenever the string is plain base64.
 */
export function unpackArray<K extends RingKind>(s: string, kind: K, capacity: number): ReturnType<(typeof MAKERS)[K]> {
  const bytesPer = BYTES[kind];
  // An upper bound of the decoded length (exact for plain base64; characters outside it are skipped when decoding).
  const n = Math.floor(Buffer.byteLength(s, 'base64') / bytesPer);
  const out = MAKERS[kind](Math.max(n, capacity)) as Packed;
  if (n === 0 || Buffer.from(out.buffer, 0, n * bytesPer).write(s, 0, n * bytesPer, 'base64') === n * bytesPer) {
    return out as ReturnType<(typeof MAKERS)[K]>;
  }
  // Fewer bytes than the bound: decode first to learn how many elements there are.
  const b = Buffer.from(s, 'base64');
  const m = Math.floor(b.length / bytesPer);
  const exact = MAKERS[kind](Math.max(m, capacity)) as Packed;
  new Uint8Array(exact.buffer, 0, m * bytesPer).set(b.subarray(0, m * bytesPer));
  return exact as ReturnType<(typeof MAKERS)[K]>;
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
 * Float32 rows of `dim` with `x`'s row at `xo` appended, keeping the newest `cap` rows (the bounded row
 * lists detector state keeps, e.g. held or recent sketches), in a fresh array: `rows` is not written.
 */
export function appendRow(rows: Float32Array, x: ArrayLike<number>, xo: number, dim: number, cap: number): Float32Array {
  const keep = Math.min(Math.floor(rows.length / dim), cap - 1);
  const next = new Float32Array((keep + 1) * dim);
  next.set(rows.subarray(rows.length - keep * dim));
  for (let j = 0; j < dim; j++) next[keep * dim + j] = x[xo + j];
  return next;
}

/** Makers of the typed arrays vector state is kept in, by kind. */
export const MAKERS = {
  f32: (n: number) => new Float32Array(n),
  u32: (n: number) => new Uint32Array(n),
  u16: (n: number) => new Uint16Array(n),
  u8: (n: number) => new Uint8Array(n),
} as const;
export type RingKind = keyof typeof MAKERS;
const BYTES: Readonly<Record<RingKind, number>> = { f32: 4, u32: 4, u16: 2, u8: 1 };

/** A fixed-capacity ring of numbers as older snapshots hold it (`TypedRing` reads it). */
export interface PackedRing {
  /** The values, oldest first, base64 of the typed array (platform byte order, little-endian in practice). */
  data: string;
}
