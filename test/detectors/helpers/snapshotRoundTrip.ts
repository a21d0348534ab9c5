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
