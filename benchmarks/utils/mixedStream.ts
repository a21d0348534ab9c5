import type { InferenceEvent } from '../../src/contract.ts';
import { balancedClasses, lineSearches, marginSampler, uniformBox } from '../../test/detectors/helpers/attacks.ts';
import { attackTimes, naturalScenario } from '../../test/detectors/helpers/scenario.ts';
import { merge, type World } from '../../test/detectors/helpers/world.ts';

/** A lattice sweep over three features of one real record (the grid-sweep detector's target). */
function latticeSweep(world: World, key: string, times: number[], steps = 8): InferenceEvent[] {
  const base = world.record(0);
  return times.map((t, n) => {
    const x = base.slice();
    for (let f = 0, i = n % steps ** 3; f < 3; f++, i = Math.floor(i / steps)) x[f] = base[f] - 3 + (6 * (i % steps)) / (steps - 1);
    return world.event(key, x, t);
  });
}

/** The mixed stream: 40 natural users, a what-if sweep, a test-set replay and a heavy user, plus six attacks. */
export function mixedStream(): InferenceEvent[] {
  const { world: w, natural } = naturalScenario(5);
  return merge(
    natural,
    latticeSweep(w, 'atk-grid', attackTimes(w)),
    marginSampler(w, 'atk-margin', attackTimes(w)),
    lineSearches(w, 'atk-lines', 36, 10, attackTimes(w)),
    balancedClasses(w, 'atk-knockoff', attackTimes(w)),
    uniformBox(w, 'atk-box', attackTimes(w)),
  );
}
