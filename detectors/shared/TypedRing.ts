import { MAKERS, type PackedRing, type RingKind, unpackArray } from '../../src/compute/packedVectors.ts';

type Values<K extends RingKind> = ReturnType<(typeof MAKERS)[K]>;

/**
 * A ring as it sits in a key's state: its values, where the next one goes,
 * how many it holds. While it holds fewer than its capacity the values are
 * in order (oldest first, `head` = `n`) and the array is exactly `n` long
 * between polls; once full, it is the capacity long and `head` goes round.
 * A ring of fewer than `YOUNG_RING` values keeps them in a plain array (the
 * typed array's values, so the same numbers), and an empty one is shared:
 * a small typed array costs about 180 bytes of heap beside its values, more
 * than a plain array of a few numbers takes whole, in every young key's state.
 */
export interface RingState<K extends RingKind = RingKind> {
  values: Values<K> | number[];
  head: number;
  n: number;
}

/** Fewest values a ring saves in a typed array (`RingState`). */
const YOUNG_RING = 16;

/** An empty ring of each kind, shared between keys (a ring's state is replaced when saved, never written in place). */
const EMPTY_RINGS: { readonly [K in RingKind]: RingState<K> } = {
  f32: Object.freeze({ values: MAKERS.f32(0), head: 0, n: 0 }),
  u32: Object.freeze({ values: MAKERS.u32(0), head: 0, n: 0 }),
  u16: Object.freeze({ values: MAKERS.u16(0), head: 0, n: 0 }),
  u8: Object.freeze({ values: MAKERS.u8(0), head: 0, n: 0 }),
};

/** The empty ring of `kind`, shared between keys. */
export function emptyRing<K extends RingKind>(kind: K): RingState<K> {
  return EMPTY_RINGS[kind] as RingState<K>;
}

/**
 * A ring buffer of the most recent `capacity` values, kept in a typed array
 * in the key's state from poll to poll (never encoded between them). Opened
 * with `room` for the poll's values, so that a ring still filling grows once
 * per poll; `save` trims what the poll left unused. Also opens the older
 * base64 form (`PackedRing`), and a ring saved with another capacity keeps
 * its newest values.
 */
export class TypedRing<K extends RingKind> {
  values: Values<K>;
  head: number;
  n: number;

  constructor(
    readonly kind: K,
    readonly capacity: number,
    saved: RingState<K> | PackedRing | undefined,
    room = 0,
  ) {
    if (saved && 'values' in saved && Array.isArray(saved.values)) {
      // A young ring's plain array: its values, in order, back in a typed array of the kind.
      const young = saved.values.slice(Math.max(0, saved.values.length - capacity));
      this.values = MAKERS[kind](young.length) as Values<K>;
      for (let i = 0; i < young.length; i++) this.values[i] = young[i];
      this.n = young.length;
      this.head = this.n % capacity;
    } else if (saved && 'values' in saved && fits(saved as RingState<K> & { values: Values<K> }, capacity)) {
      this.values = saved.values as Values<K>;
      this.head = saved.head;
      this.n = saved.n;
    } else {
      // The older form, or another capacity: oldest first, the newest `capacity` kept.
      const ordered = saved && 'values' in saved ? (oldestFirst(saved) as Values<K>) : saved?.data ? (unpackArray(saved.data, kind, 0) as Values<K>) : (MAKERS[kind](0) as Values<K>);
      const keep = Math.min(ordered.length, capacity);
      this.values = MAKERS[kind](keep) as Values<K>;
      this.values.set(ordered.subarray(ordered.length - keep) as never);
      this.n = keep;
      this.head = keep % capacity;
    }
    this.grow(Math.min(capacity, this.n + room));
  }

  push(v: number): void {
    if (this.n === this.values.length && this.n < this.capacity) this.grow(Math.min(this.capacity, Math.max(8, 2 * this.n)));
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

  /** The newest value (the ring must hold one). */
  newest(): number {
    return this.values[(this.head + this.capacity - 1) % this.capacity];
  }

  /** Oldest first, a copy. */
  ordered(): Values<K> {
    const v = this.values;
    if (this.n < this.capacity) return v.slice(0, this.n) as Values<K>;
    const out = MAKERS[this.kind](this.capacity) as Values<K>;
    out.set(v.subarray(this.head) as never, 0);
    out.set(v.subarray(0, this.head) as never, this.capacity - this.head);
    return out;
  }

  /** The ring for the key's state: its own values, exactly `n` long while it fills (young, a plain array; empty, the shared one). */
  save(): RingState<K> {
    if (this.n === 0) return emptyRing(this.kind);
    if (this.n < YOUNG_RING && this.n < this.capacity) {
      const young = new Array<number>(this.n);
      for (let i = 0; i < this.n; i++) young[i] = this.values[i];
      return { values: young, head: this.head, n: this.n };
    }
    if (this.values.length > this.n) this.values = this.values.slice(0, this.n) as Values<K>;
    return { values: this.values, head: this.head, n: this.n };
  }

  /** Makes the array `length` long (while the values are still in order). */
  private grow(length: number): void {
    if (length <= this.values.length) return;
    const grown = MAKERS[this.kind](length) as Values<K>;
    grown.set(this.values.subarray(0, this.n) as never);
    this.values = grown;
  }
}

/** A saved ring's values oldest first (a copy): in order while it was filling (a young ring's plain array too), else from `head` round. */
export function oldestFirst<K extends RingKind>(saved: RingState<K>): Values<K> | number[] {
  const { values, head, n } = saved;
  if (Array.isArray(values)) return values.slice(0, n);
  if (n < values.length || head === 0) return values.slice(0, n) as Values<K>;
  const out = values.slice(0, n) as Values<K>;
  out.set(values.subarray(head) as never, 0);
  out.set(values.subarray(0, head) as never, n - head);
  return out;
}

/** Whether a saved ring can be used as it is with `capacity`: in order while filling, or full at exactly that capacity. */
function fits(saved: RingState & { values: Values<RingKind> }, capacity: number): boolean {
  return saved.n < capacity ? saved.head === saved.n && saved.values.length >= saved.n && saved.values.length <= capacity : saved.n === capacity && saved.values.length === capacity;
}
