/**
 * Quantised offsets between sketches and a small open-addressing table that
 * counts, per offset, the distinct queries that realised it. Transient: one
 * table serves every block evaluation of a `recurring-offsets` detector and
 * is cleared between them, never kept in state.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The squared length of the offset `a − b` (their first `dim` coordinates),
 * a cheap first filter: two offsets can only be equal when their lengths are.
 */
export function offsetSquare(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let sq = 0;
  for (let j = 0; j < dim; j++) {
    const d = a[ao + j] - b[bo + j];
    sq += d * d;
  }
  return sq;
}

/**
 * An offset's length class: the float32 bits of its squared length without
 * the low 9 mantissa bits, i.e. the length rounded down on a logarithmic grid
 * of relative width 2^-15 (≈ 3e-5), whatever the sketch's units; 0 only for a
 * zero offset.
 */
export function lengthClass(sq: number): number {
  f32[0] = sq;
  return u32[0] >>> 9;
}

/**
 * A 32-bit identity of the offset `a − b` of squared length `sq`: its
 * direction (unit vector) rounded to `quantum` and its length class, hashed
 * (FNV-1a). All rounding is relative to the offset's own length, so it needs
 * no knowledge of the sketch's units: the same step taken from two points gets
 * the same identity up to the sketch's float32 rounding (≈ 1e-7 of a
 * coordinate), far inside a quantum of 1e-4.
 * Never 0.
 */
export function offsetId(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number, sq: number, quantum: number): number {
  const scale = 1 / (Math.sqrt(sq) * quantum);
  let h = Math.imul(0x811c9dc5 ^ lengthClass(sq), 0x01000193);
  for (let j = 0; j < dim; j++) h = Math.imul(h ^ Math.floor((a[ao + j] - b[bo + j]) * scale + 0.5), 0x01000193);
  return h >>> 0 || 1;
}

/**
 * Length classes seen once and seen again, by a hash of the class: a cheap
 * pre-pass so that only offsets whose length recurs get a full identity.
 * Collisions only cost work, never a miss. With `addPair` it also flags the
 * pairs (indexes within a block) whose length recurs, the first sighting
 * included, so that the second pass reads a flag per pair instead of hashing
 * the class again.
 */
export class LengthFilter {
  /** Per hash: 0 unseen, 1 seen once, 2 recurring. */
  private readonly seen: Uint8Array;
  /** Per hash: the pair of its first sighting (−1 when added without one). */
  private readonly first: Int32Array;
  private flags = new Uint8Array(0);
  private readonly mask: number;

  constructor(bits = 1 << 16) {
    this.seen = new Uint8Array(bits);
    this.first = new Int32Array(bits);
    this.mask = bits - 1;
  }

  /** Empties the filter, with room for `pairs` pair flags. */
  clear(pairs = 0): void {
    this.seen.fill(0);
    if (this.flags.length < pairs) this.flags = new Uint8Array(pairs);
    else this.flags.fill(0, 0, pairs);
  }

  private bit(cls: number): number {
    return (Math.imul(cls, 0x9e3779b1) >>> 0) & this.mask;
  }

  add(cls: number): void {
    this.addPair(cls, -1);
  }

  /** `add` for pair `pair` of the block (0 ≤ pair < the `clear`ed room), flagging it and its length's first pair once the length recurs. */
  addPair(cls: number, pair: number): void {
    const b = this.bit(cls);
    const s = this.seen[b];
    if (s === 0) {
      this.seen[b] = 1;
      this.first[b] = pair;
      return;
    }
    if (s === 1) {
      this.seen[b] = 2;
      if (this.first[b] >= 0) this.flags[this.first[b]] = 1;
    }
    if (pair >= 0) this.flags[pair] = 1;
  }

  /** Marks a class as recurring outright (a remembered offset's length). */
  mark(cls: number): void {
    this.seen[this.bit(cls)] = 2;
  }

  recurs(cls: number): boolean {
    return this.seen[this.bit(cls)] === 2;
  }

  /** Whether the length of pair `pair` (added by `addPair`) recurs: `recurs` of its class once every pair is added. */
  pairRecurs(pair: number): boolean {
    return this.flags[pair] === 1;
  }
}

/** A realiser's fingerprint: FNV-1a of a sketch row's float32 bits (never 0). */
export function rowFingerprint(rows: Float32Array, offset: number, dim: number): number {
  const bits = new Uint32Array(rows.buffer, rows.byteOffset + offset * 4, dim);
  let h = 0x811c9dc5;
  for (let j = 0; j < dim; j++) h = Math.imul(h ^ bits[j], 0x01000193);
  return h >>> 0 || 1;
}

/**
 * Offset id → the distinct queries (by index within the block) that realised
 * it, counted once each, with the fingerprints of the first `keep` of them:
 * linear probing over a power-of-two table, cleared slot by slot.
 */
export class OffsetCounts {
  private ids = new Uint32Array(0);
  private counts = new Uint16Array(0);
  private lastQuery = new Int32Array(0);
  private fps = new Uint32Array(0);
  private lens = new Uint32Array(0);
  private mask = 0;
  /** Occupied slots, in the order they were taken. */
  private used = new Int32Array(0);
  private nUsed = 0;

  constructor(private readonly keep: number) {}

  /** Empties the table, sized for up to `capacity` distinct offsets. */
  reset(capacity: number): void {
    let size = 16;
    while (size < 2 * capacity) size *= 2;
    if (size !== this.ids.length) {
      this.ids = new Uint32Array(size);
      this.counts = new Uint16Array(size);
      this.lastQuery = new Int32Array(size).fill(-1);
      this.fps = new Uint32Array(size * this.keep);
      this.lens = new Uint32Array(size);
      this.used = new Int32Array(size);
      this.mask = size - 1;
    } else {
      for (let k = 0; k < this.nUsed; k++) {
        const i = this.used[k];
        this.ids[i] = 0;
        this.counts[i] = 0;
        this.lastQuery[i] = -1;
      }
    }
    this.nUsed = 0;
  }

  /** Counts query `q` (fingerprint `fp`) as a realiser of offset `id` (length class `len`), once per query; returns the slot. */
  add(id: number, q: number, fp: number, len: number): number {
    let i = (Math.imul(id, 0x9e3779b1) >>> 0) & this.mask;
    while (this.ids[i] !== 0 && this.ids[i] !== id) i = (i + 1) & this.mask;
    if (this.ids[i] === 0) {
      this.ids[i] = id;
      this.lens[i] = len;
      this.used[this.nUsed++] = i;
    }
    if (this.lastQuery[i] !== q) {
      this.lastQuery[i] = q;
      if (this.counts[i] < this.keep) this.fps[i * this.keep + this.counts[i]] = fp;
      if (this.counts[i] < 0xffff) this.counts[i]++;
    }
    return i;
  }

  /** The slot holding offset `id`, or −1. */
  find(id: number): number {
    let i = (Math.imul(id, 0x9e3779b1) >>> 0) & this.mask;
    while (this.ids[i] !== 0) {
      if (this.ids[i] === id) return i;
      i = (i + 1) & this.mask;
    }
    return -1;
  }

  /** Distinct realisers in the block of the offset in `slot`. */
  count(slot: number): number {
    return this.counts[slot];
  }

  id(slot: number): number {
    return this.ids[slot];
  }

  lengthOf(slot: number): number {
    return this.lens[slot];
  }

  /** Fingerprints of the first `keep` realisers of the offset in `slot`. */
  fingerprints(slot: number): Uint32Array {
    return this.fps.subarray(slot * this.keep, slot * this.keep + Math.min(this.counts[slot], this.keep));
  }

  /** Occupied slots whose offset at least `min` queries of the block realised, in the order they were first seen. */
  slotsWith(min: number): number[] {
    const out: number[] = [];
    for (let k = 0; k < this.nUsed; k++) if (this.counts[this.used[k]] >= min) out.push(this.used[k]);
    return out;
  }

  /** Slots of the table (the bound of a slot index). */
  get size(): number {
    return this.ids.length;
  }
}
