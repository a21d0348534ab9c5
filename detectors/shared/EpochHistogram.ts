import { compact } from './math.ts';
import { DOUBLE_ZERO } from '../../src/state/doubleZero.ts';

/**
 * A histogram learned online from many keys' traffic, used as a benign
 * baseline: counts accumulate during an event-time epoch and are folded into
 * a frozen reference distribution only when the epoch ends, with a slow EWMA
 * (weight `alpha`). Every query of an epoch is therefore judged against a
 * reference that the same epoch's traffic (an attacker's included) has not
 * yet moved, and one epoch moves it by at most `alpha`.
 *
 * Plain JSON; size is `2 × bins` numbers (≈ 20 bytes per bin in JSON).
 */
export interface EpochHistogram {
  /** Event-time epoch being accumulated (−1 before the first event). */
  epoch: number;
  current: number[];
  currentTotal: number;
  /** Reference distribution (sums to 1) from completed epochs, or null while warming up. */
  ref: number[] | null;
  /** Samples behind `ref` (sum of the folded epochs' counts, decayed like the reference). */
  refSamples: number;
}

export interface EpochRoll {
  /** The completed epoch's own distribution (sums to 1). */
  epochDist: number[];
  /** The reference before this epoch was folded in (null for the first). */
  previousRef: number[] | null;
  samples: number;
}

export interface BaselineOptions {
  epochMs: number;
  /** EWMA weight of one completed epoch in the reference. */
  alpha: number;
  /** An epoch with fewer samples is not folded: its counts carry over to the next one. */
  minEpochSamples: number;
}

export function createHistogram(bins: number): EpochHistogram {
  return { epoch: -1, current: new Array(bins).fill(0), currentTotal: DOUBLE_ZERO, ref: null, refSamples: DOUBLE_ZERO };
}

/**
 * Moves the histogram to the epoch of `ts`, folding the finished epoch into
 * the reference. Returns what was folded, or null when nothing was.
 */
export function advanceEpoch(h: EpochHistogram, ts: number, o: BaselineOptions): EpochRoll | null {
  const epoch = Math.floor(ts / o.epochMs);
  if (h.epoch < 0) h.epoch = epoch;
  if (epoch <= h.epoch) return null;
  h.epoch = epoch;
  if (h.currentTotal < o.minEpochSamples) return null; // too thin: keep counting into the next epoch
  const epochDist = h.current.map((c) => c / h.currentTotal);
  const previousRef = h.ref;
  h.ref = previousRef ? previousRef.map((r, i) => compact((1 - o.alpha) * r + o.alpha * epochDist[i])) : epochDist.map(compact);
  h.refSamples = compact((1 - o.alpha) * h.refSamples + h.currentTotal);
  const samples = h.currentTotal;
  h.current.fill(0);
  h.currentTotal = 0;
  return { epochDist, previousRef, samples };
}

export function addToHistogram(h: EpochHistogram, bin: number, weight = 1): void {
  if (bin < 0 || bin >= h.current.length) return;
  h.current[bin] += weight;
  h.currentTotal += weight;
}

/** True once the reference exists and rests on at least `minSamples` samples. */
export function histogramReady(h: EpochHistogram, minSamples: number): h is EpochHistogram & { ref: number[] } {
  return h.ref !== null && h.refSamples >= minSamples;
}

/** Bin of a value in [0,1] for a histogram of `bins` equal bins. */
export function unitBin(x: number, bins: number): number {
  if (!(x > 0)) return 0;
  return Math.min(bins - 1, Math.floor(x * bins));
}

/** The value below which a share `q` of a [0,1] distribution lies (linear within bins). */
export function unitQuantile(dist: readonly number[], q: number): number {
  const bins = dist.length;
  let cum = 0;
  for (let i = 0; i < bins; i++) {
    const next = cum + dist[i];
    if (next >= q && dist[i] > 0) return (i + (q - cum) / dist[i]) / bins;
    cum = next;
  }
  return 1;
}

/** The share of a [0,1] distribution below `x` (linear within bins). */
export function unitCdf(dist: readonly number[], x: number): number {
  const bins = dist.length;
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const pos = x * bins;
  const full = Math.floor(pos);
  let cum = 0;
  for (let i = 0; i < full; i++) cum += dist[i];
  return cum + dist[full] * (pos - full);
}

/**
 * A key's budget of contributions to shared baselines in one epoch, so that
 * a single heavy key (an attacker's, say) weighs no more than `cap` samples
 * per epoch in any model-wide reference.
 */
export interface EpochQuota {
  e: number;
  n: number;
}

export function createQuota(): EpochQuota {
  return { e: -1, n: 0 };
}

export function takeQuota(q: EpochQuota, ts: number, epochMs: number, cap: number): boolean {
  const epoch = Math.floor(ts / epochMs);
  if (epoch !== q.e) {
    q.e = epoch;
    q.n = 0;
  }
  if (q.n >= cap) return false;
  q.n++;
  return true;
}
