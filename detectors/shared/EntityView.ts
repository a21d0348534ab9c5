import { addClass, type ClassMix, createClassMix } from './ClassMix.ts';
import { addToShare, createShare, type EwShare } from './EwShare.ts';
import { compact } from './math.ts';
import { addToRing, type BucketRing, createRing } from './SketchBuckets.ts';

/**
 * The pooled traffic of an aggregate entity (a tenant, a network prefix, a
 * group of keys with alike geometry) for one model: the same views as the
 * per-key detectors — small-margin, high-entropy and bisection-step shares,
 * class mix, input buckets — plus the spread of its queries and which keys
 * fed it recently.
 *
 * Ceiling per entity and model: 9 numbers of shares, ≤ maxClasses counts,
 * `ringSize` bucket ids, ≤ maxTrackedKeys key ids (8 hex chars + epoch):
 * with the defaults under 3 kB of JSON.
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

export function createEntityView(): EntityView {
  return {
    margin: createShare(),
    entropy: createShare(),
    halving: createShare(),
    mix: createClassMix(),
    ring: createRing(),
    spread: 0,
    spreadN: 0,
    keys: {},
    contributions: 0,
    balance: 0,
    balanceZ: 0,
    balanceScore: 0,
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
  maxTrackedKeys: number;
}

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
  const id = shortKey(x.key);
  if (!(id in v.keys) && Object.keys(v.keys).length >= l.maxTrackedKeys) {
    let oldest = '';
    for (const [k, e] of Object.entries(v.keys)) if (!oldest || e < v.keys[oldest]) oldest = k;
    delete v.keys[oldest];
  }
  v.keys[id] = x.epoch;
}

/** Keys that contributed within the last `epochs` epochs. */
export function activeKeys(v: EntityView, epoch: number, epochs: number): number {
  let n = 0;
  for (const e of Object.values(v.keys)) if (e > epoch - epochs) n++;
  return n;
}

/** A short, stable id of a key (FNV-1a, 32 bits): entities list their keys without holding their names. */
export function shortKey(key: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}
