/**
 * Typed arrays as base64 strings, the compact form vector state takes in
 * JSON snapshots: a float32 row costs 4 bytes (5⅓ in base64) instead of
 * 8–12 characters per number, and decodes straight into the Float32Array
 * the Compute kernels take.
 */

/** Little-endian bytes of a typed array, as base64. */
export function packArray(a: Float32Array | Uint32Array | Uint16Array | Uint8Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

function bytesOf(s: string): Buffer {
  return Buffer.from(s, 'base64');
}

/** Copies into a fresh, aligned buffer of `capacity` elements at least (the rest zero). */
function unpack<T extends Float32Array | Uint32Array | Uint16Array | Uint8Array>(
  s: string,
  make: (n: number) => T,
  bytesPer: number,
  capacity = 0,
): T {
  const b = bytesOf(s);
  const n = Math.floor(b.length / bytesPer);
  const out = make(Math.max(n, capacity));
  new Uint8Array(out.buffer, out.byteOffset, n * bytesPer).set(b.subarray(0, n * bytesPer));
  return out;
}

export const unpackFloat32 = (s: string, capacity?: number) => unpack(s, (n) => new Float32Array(n), 4, capacity);
export const unpackUint32 = (s: string, capacity?: number) => unpack(s, (n) => new Uint32Array(n), 4, capacity);
export const unpackUint16 = (s: string, capacity?: number) => unpack(s, (n) => new Uint16Array(n), 2, capacity);
export const unpackUint8 = (s: string, capacity?: number) => unpack(s, (n) => new Uint8Array(n), 1, capacity);

type Packed = Float32Array | Uint32Array | Uint16Array | Uint8Array;
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
