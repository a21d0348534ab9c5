import { oldestFirst, type RingState } from '../../../detectors/shared/TypedRing.ts';
import { decodeSection, encodeSection } from '../../../src/state/SnapshotCodec.ts';
import type { DetectorRun } from './runDetector.ts';

/** `value` as a snapshot restores it: through the snapshot sections' encoding (MessagePack, typed arrays kept). */
export function throughSnapshot<T>(value: T): T {
  return decodeSection(encodeSection(value)) as T;
}

/** A run with its key states, aggregate entities and feed states as a snapshot would restore them (a rebalance or a restart). */
export function restoredRun(run: DetectorRun): DetectorRun {
  return {
    ...run,
    states: new Map(throughSnapshot([...run.states])),
    aggregates: new Map(throughSnapshot([...run.aggregates])),
    feeds: new Map(throughSnapshot([...run.feeds])),
  };
}

/**
 * A detector state with each ring (`RingState`) replaced by its values oldest first: a state restored from
 * an older snapshot holds the same rings as an uninterrupted run's, but their heads elsewhere.
 */
export function ringsInOrder(state: unknown): unknown {
  const out = { ...(state as Record<string, unknown>) };
  for (const k in out) {
    const r = out[k] as Partial<RingState> | null;
    if (r && typeof r === 'object' && ArrayBuffer.isView(r.values) && typeof r.head === 'number') out[k] = oldestFirst(r as RingState);
  }
  return out;
}
