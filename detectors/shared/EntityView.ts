import { addClass, type ClassMix, createClassMix } from './ClassMix.ts';
import { addToShare, createShare, type EwShare } from './EwShare.ts';
import { compact } from './math.ts';
import { addToRing, type BucketRing, createRing } from './SketchBuckets.ts';
import { DOUBLE_ZERO } from '../../src/state/doubleZero.ts';

/**
 * The pooled traffic of an aggregate entity (a tenant, a network prefix, a
 * group of keys with alike geometry) for one model: the same views as the
 * per-key detectors — small-margin, high-entropy and bisection-step shares,
 * class mix, input buckets — plus the spread of its queries and which keys
 * fed it recently.
 *
 * Ceiling per entity and model: 9 numbers of shares, ≤ maxClasses counts,
 * `ringSize` bucket ids (a `Uint16Array` once full), ≤ maxTrackedKeys key
 * ids (8 hex chars + epoch): with the defaults under 3 kB as a snapshot
 * section.
 */
export interface EntityView {
  margin: EwShare;
  entropy: EwShare;
  halving: EwShare;
  mix: ClassMix;
  ring: BucketRing;
  /** EWMA of the squared distance of pooled sketches from the model centre, over `spreadN` queries. */
  spread: number;
  spreadN: number;
  /** Short key id → last epoch it contributed. */
  keys: Record<string, number>;
  contributions: number;
  /** Balance statistic b of the pooled class mix (`balanceTest`: 0 natural … 1 uniform) and its score, last evaluated. */
  balance: number;
  balanceZ: number;
  balanceScore: number;
}

/**
 * A fresh view; `keys` the view's own tracked keys, or `NO_KEYS` for one that tracks none (a key's own view:
 * `ViewLimits.maxTrackedKeys` 0).
 */
export function createEntityView(keys: Record<string, number> = {}): EntityView {
  return {
    margin: createShare(),
    entropy: createShare(),
    halving: createShare(),
    mix: createClassMix(),
    ring: createRing(),
    spread: DOUBLE_ZERO,
    spreadN: 0,
    keys,
    contributions: 0,
    balance: DOUBLE_ZERO,
    balanceZ: DOUBLE_ZERO,
    balanceScore: DOUBLE_ZERO,
  };
}

/** One event's contribution to a view; `undefined` fields were not observable. */
export interface Contribution {
  key: string;
  epoch: number;
  margin?: { hit: boolean; expected: number };
  entropy?: { hit: boolean; expected: number };
  halving?: boolean;
  label: number;
  bucket: number;
  /** Squared distance of the sketch from the model centre, once the centre is known. */
  d2?: number;
}

export interface ViewLimits {
  window: number;
  mixWindow: number;
  maxClasses: number;
  ringSize: number;
  /** 0: none (a key's own view, whose keys nothing reads: its own id would give every key's view a hidden class of its own). */
  maxTrackedKeys: number;
}

/** The tracked keys of every view that tracks none, shared (never written: `maxTrackedKeys` 0). */
export const NO_KEYS: Readonly<Record<string, number>> = Object.freeze({});

export function contribute(v: EntityView, x: Contribution, l: ViewLimits): void {
  v.contributions++;
  if (x.margin) addToShare(v.margin, x.margin.hit, x.margin.expected, l.window);
  if (x.entropy) addToShare(v.entropy, x.entropy.hit, x.entropy.expected, l.window);
  if (x.halving !== undefined) addToShare(v.halving, x.halving, 0, l.window);
  addClass(v.mix, x.label, l.mixWindow, l.maxClasses);
  if (x.bucket >= 0) addToRing(v.ring, x.bucket, l.ringSize);
  if (x.d2 !== undefined) {
    v.spreadN++;
    v.spread = compact(v.spread + (x.d2 - v.spread) / Math.min(v.spreadN, l.window));
  }
  if (l.maxTrackedKeys === 0) return;
  const id = shortKey(x.key);
  const ix = keyIndex(v.keys);
  if (ix) {
    const prev = ix.epochOf(id);
    if (prev === undefined && ix.size >= l.maxTrackedKeys) ix.evictOldest(v.keys);
    ix.set(v.keys, id, x.epoch);
  } else {
    if (!Object.hasOwn(v.keys, id) && countKeys(v.keys, l.maxTrackedKeys) >= l.maxTrackedKeys) evictOldestByScan(v.keys);
    v.keys[id] = x.epoch;
  }
}

/** Keys that contributed within the last `epochs` epochs. */
export function activeKeys(v: EntityView, epoch: number, epochs: number): number {
  const ix = keyIndex(v.keys);
  if (ix) return ix.activeSince(epoch - epochs);
  let n = 0;
  for (const k in v.keys) if (v.keys[k] > epoch - epochs) n++;
  return n;
}

/**
 * Up to this many tracked keys a view's `keys` object is scanned rather than
 * mirrored in a `KeyIndex` (a key's own view tracks one key: its three Maps
 * would cost more than the scan saves).
 */
const SCAN_KEYS = 8;

function countKeys(keys: Record<string, number>, most: number): number {
  let n = 0;
  for (const _ in keys) if (++n > most) break;
  return n;
}

/** `KeyIndex.evictOldest` by a scan: the first key in the object's own order among those with the oldest epoch. */
function evictOldestByScan(keys: Record<string, number>): void {
  let oldest = Infinity;
  for (const k in keys) if (keys[k] < oldest) oldest = keys[k];
  for (const k in keys) {
    if (keys[k] === oldest) {
      delete keys[k];
      return;
    }
  }
}

/**
 * A view's tracked keys (`EntityView.keys`, the JSON state) mirrored in
 * Maps, so that counting active keys, counting keys held and finding the
 * oldest cost a few epochs, not a scan of a dictionary-mode object on every
 * event. The mirror keeps the object's own property order — array-index
 * names first in ascending order, then the others in insertion order
 * (ECMA-262 OrdinaryOwnPropertyKeys) — so that eviction picks exactly the
 * key a scan of the object would. Keyed by the `keys` object itself: a
 * restored snapshot (a new object) is re-indexed on first use.
 */
class KeyIndex {
  /** Names that are array indices (rare: 8 hex digits that are all decimal), unordered. */
  private readonly indexNames = new Map<string, number>();
  /** Every other name, in insertion order. */
  private readonly names = new Map<string, number>();
  /** Epoch → keys whose last contribution fell in it (no zero counts). */
  private readonly byEpoch = new Map<number, number>();

  constructor(keys: Record<string, number>) {
    for (const k in keys) this.add(k, keys[k]);
  }

  get size(): number {
    return this.indexNames.size + this.names.size;
  }

  epochOf(id: string): number | undefined {
    return this.names.get(id) ?? this.indexNames.get(id);
  }

  set(keys: Record<string, number>, id: string, epoch: number): void {
    const prev = this.epochOf(id);
    if (prev !== undefined) {
      this.count(prev, -1);
      (this.names.has(id) ? this.names : this.indexNames).set(id, epoch);
      this.count(epoch, 1);
    } else this.add(id, epoch);
    keys[id] = epoch;
  }

  activeSince(after: number): number {
    let n = 0;
    for (const [e, count] of this.byEpoch) if (e > after) n += count;
    return n;
  }

  /** Drops the key with the oldest epoch, the first such key in the object's own order. */
  evictOldest(keys: Record<string, number>): void {
    let oldest = Infinity;
    for (const e of this.byEpoch.keys()) if (e < oldest) oldest = e;
    let victim: string | undefined;
    for (const [k, e] of this.indexNames) if (e === oldest && (victim === undefined || Number(k) < Number(victim))) victim = k;
    if (victim === undefined) {
      for (const [k, e] of this.names) {
        if (e === oldest) {
          victim = k;
          break;
        }
      }
    }
    if (victim === undefined) return;
    this.names.delete(victim);
    this.indexNames.delete(victim);
    this.count(oldest, -1);
    delete keys[victim];
  }

  private add(id: string, epoch: number): void {
    (isArrayIndex(id) ? this.indexNames : this.names).set(id, epoch);
    this.count(epoch, 1);
  }

  private count(epoch: number, delta: number): void {
    const n = (this.byEpoch.get(epoch) ?? 0) + delta;
    if (n > 0) this.byEpoch.set(epoch, n);
    else this.byEpoch.delete(epoch);
  }
}

function isArrayIndex(name: string): boolean {
  const n = Number(name);
  return n >>> 0 === n && n !== 4294967295 && String(n) === name;
}

const keyIndexes = new WeakMap<Record<string, number>, KeyIndex>();

/** The view's key index, built once it tracks more than `SCAN_KEYS` keys; null while it tracks fewer (scanned instead). */
function keyIndex(keys: Record<string, number>): KeyIndex | null {
  let ix = keyIndexes.get(keys);
  if (!ix) {
    if (countKeys(keys, SCAN_KEYS) <= SCAN_KEYS) return null;
    keyIndexes.set(keys, (ix = new KeyIndex(keys)));
  }
  return ix;
}

/** A short, stable id of a key (FNV-1a, 32 bits): entities list their keys without holding their names. */
export function shortKey(key: string): string {
  if (key === lastKey) return lastId;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  lastKey = key;
  lastId = h.toString(16).padStart(8, '0');
  return lastId;
}

// An event feeds its key's own view and then each of its entities: one hash for all of them.
let lastKey: string | null = null;
let lastId = '';
