import type { InferenceEvent } from '../../../src/contract.ts';
import { lineSearches, uniformBox } from './attacks.ts';
import { T0 } from './scenario.ts';
import { background, merge, scriptTimes, World } from './world.ts';

/**
 * A small stream whose first `SNAPSHOT_CUT` events the detectors' older-snapshot
 * fixtures (`test/fixtures/olderSnapshots.json`) were run over by the code that
 * wrote them: a few natural keys, a line search and a uniform box.
 */
export function snapshotScenario(): InferenceEvent[] {
  const world = new World({ seed: 23 });
  return merge(
    background(world, 4, 150, T0, 3_600_000),
    lineSearches(world, 'atk-lines', 15, 10, scriptTimes(world, 150, T0, 2_000)),
    uniformBox(world, 'atk-box', scriptTimes(world, 150, T0 + 60_000, 2_000)),
  );
}

/** Where the fixtures' snapshots were taken. */
export const SNAPSHOT_CUT = 450;
