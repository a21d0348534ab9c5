import type { InferenceEvent } from '../../src/contract.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import type { DetectorContext, KeyGroup } from '../types.ts';

/** One event of a poll with the group (key) it belongs to and its index there. */
export interface PollEvent {
  g: number;
  i: number;
  e: InferenceEvent;
}

/**
 * A poll's events across all keys in event-time order, ties broken by key
 * then by position within the key. Detectors with shared (model, tenant,
 * prefix) state walk them in this order so that their output depends only on
 * the stream, never on how it was cut into polls.
 */
export function eventTimeOrder(groups: readonly KeyGroup<unknown>[]): readonly PollEvent[] {
  if (lastOrder && sameEvents(lastOrder.groups, groups)) return lastOrder.order;
  const order = computeOrder(groups);
  lastOrder = { groups: groups.map((grp) => ({ key: grp.key, events: grp.events, length: grp.events.length })), order };
  return order;
}

/**
 * The last poll's order: every detector of a poll walks the same key groups
 * (the same event arrays, each detector with its own state), so the order is
 * computed once per poll. Frozen, since detectors share it.
 */
let lastOrder: { groups: { key: string; events: readonly InferenceEvent[]; length: number }[]; order: readonly PollEvent[] } | null = null;

/** Lets go of the last poll's order, which holds every event of the poll, once the poll's detectors are done. */
export function forgetEventOrder(): void {
  lastOrder = null;
}

function sameEvents(a: { key: string; events: readonly InferenceEvent[]; length: number }[], b: readonly KeyGroup<unknown>[]): boolean {
  if (a.length !== b.length) return false;
  for (let g = 0; g < a.length; g++) if (a[g].events !== b[g].events || a[g].key !== b[g].key || a[g].length !== b[g].events.length) return false;
  return true;
}

function computeOrder(groups: readonly KeyGroup<unknown>[]): readonly PollEvent[] {
  const out: PollEvent[] = [];
  for (let g = 0; g < groups.length; g++) {
    const events = groups[g].events;
    for (let i = 0; i < events.length; i++) out.push({ g, i, e: events[i] });
  }
  // Rank of each group's key (equal keys, equal ranks), so the sort compares numbers, not strings.
  const byKey = groups.map((_, g) => g).sort((a, b) => (groups[a].key < groups[b].key ? -1 : groups[a].key > groups[b].key ? 1 : 0));
  const rank = new Int32Array(groups.length);
  for (let r = 0, j = 0; j < byKey.length; j++) {
    if (j > 0 && groups[byKey[j]].key !== groups[byKey[j - 1]].key) r++;
    rank[byKey[j]] = r;
  }
  out.sort((a, b) => a.e.ts - b.e.ts || rank[a.g] - rank[b.g] || a.i - b.i);
  for (const p of out) Object.freeze(p);
  return Object.freeze(out);
}

/**
 * What a detector's walk over a batch in event time reads and writes, built once per batch. The walk calls
 * a per-event method from its loop: the detector's `processBatch` runs once per batch, so without on-stack
 * replacement a loop body inline there would stay unoptimised through the whole first batch and after each
 * deoptimisation, while a method called per event is optimised within it.
 */
export interface BatchWalk<S> {
  groups: readonly KeyGroup<S>[];
  ctx: DetectorContext;
  /** Per key, its score at each of its events. */
  scores: Float64Array[];
}

/**
 * One value per key group, `make(group)`, in a plain array built by a loop. A batch's columns (scores, views,
 * states) are built this way rather than by `groups.map`: an array `map` makes arrays of one elements kind
 * while its caller runs unoptimised and of another once the caller is optimised with it inlined, and the
 * optimised loop that reads the columns then meets a map it never saw and is thrown away.
 */
export function perGroup<G, T>(groups: readonly G[], make: (group: G) => T): T[] {
  const out: T[] = [];
  for (let g = 0; g < groups.length; g++) out.push(make(groups[g]));
  return out;
}

/**
 * Runs a row kernel once per distinct row width over rows of mixed widths
 * (models differ in class count), stacking every row of a width into one
 * matrix: one kernel call per width per poll. `NaN` for empty rows.
 */
export function rowKernel(rows: readonly (ArrayLike<number> | null)[], kernel: (m: Float32Array, width: number) => Float32Array): Float64Array {
  const out = new Float64Array(rows.length).fill(Number.NaN);
  const byWidth = new Map<number, number[]>();
  rows.forEach((r, k) => {
    if (!r || r.length === 0) return;
    let list = byWidth.get(r.length);
    if (!list) byWidth.set(r.length, (list = []));
    list.push(k);
  });
  for (const [width, idx] of byWidth) {
    const m = new Float32Array(idx.length * width);
    // Element by element: \`set\` from a plain array costs more per call than a row of a few classes does.
    for (let j = 0, o = 0; j < idx.length; j++) {
      const row = rows[idx[j]] as ArrayLike<number>;
      for (let c = 0; c < width; c++) m[o++] = row[c];
    }
    const res = kernel(m, width);
    idx.forEach((k, j) => (out[k] = res[j]));
  }
  return out;
}

/** Jensen–Shannon divergences (nats) of row pairs of mixed widths, one kernel call per width. */
export function pairKernel(compute: Compute, pairs: readonly { p: ArrayLike<number>; q: ArrayLike<number> }[]): Float64Array {
  const out = new Float64Array(pairs.length).fill(Number.NaN);
  const byWidth = new Map<number, number[]>();
  pairs.forEach((r, k) => {
    let list = byWidth.get(r.p.length);
    if (!list) byWidth.set(r.p.length, (list = []));
    list.push(k);
  });
  for (const [width, idx] of byWidth) {
    const p = new Float32Array(idx.length * width);
    const q = new Float32Array(idx.length * width);
    idx.forEach((k, j) => {
      p.set(pairs[k].p, j * width);
      q.set(pairs[k].q, j * width);
    });
    const res = compute.jsDivergence(p, q, width);
    idx.forEach((k, j) => (out[k] = res[j]));
  }
  return out;
}

/** Whether an event says what the model answered, and that answer; one rule with the model reference's feed. */
export { modelLabel, modelProbs, usableAnswer } from '../../src/baselines/answerStatistics.ts';

/** Index of each group's first event in the poll's events flattened group by group. */
export function groupOffsets(groups: readonly KeyGroup<unknown>[]): { offsets: number[]; total: number } {
  const offsets: number[] = [];
  let total = 0;
  for (const g of groups) {
    offsets.push(total);
    total += g.events.length;
  }
  return { offsets, total };
}

/** Every event of the poll flattened group by group (the row order of `groupOffsets`). */
export function flatEvents(groups: readonly KeyGroup<unknown>[]): InferenceEvent[] {
  const out: InferenceEvent[] = [];
  for (const g of groups) for (const e of g.events) out.push(e);
  return out;
}
