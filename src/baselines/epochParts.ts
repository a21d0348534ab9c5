import type { InferenceEvent } from '../contract.ts';

/**
 * A batch cut at the reference's epoch boundaries, earliest epoch first,
 * each part in its given order: the reference folds between epochs, and
 * the gate that feeds it reads the detectors' scores of the epoch before,
 * so a batch that spans a boundary is processed as one batch per epoch —
 * the same as if the stream had been polled at the boundary.
 */
export function epochParts<E extends Pick<InferenceEvent, 'ts'>>(events: readonly E[], epochMs: number): (readonly E[])[] {
  if (events.length === 0) return [events];
  const first = Math.floor(events[0].ts / epochMs);
  let same = true;
  for (const e of events) {
    if (Math.floor(e.ts / epochMs) !== first) {
      same = false;
      break;
    }
  }
  if (same) return [events];
  const byEpoch = new Map<number, E[]>();
  for (const e of events) {
    const epoch = Math.floor(e.ts / epochMs);
    let part = byEpoch.get(epoch);
    if (!part) byEpoch.set(epoch, (part = []));
    part.push(e);
  }
  return [...byEpoch.keys()].sort((a, b) => a - b).map((k) => byEpoch.get(k)!);
}
