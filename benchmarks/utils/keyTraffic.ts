import type { InferenceEvent } from '../../src/contract.ts';
import { lineSearches, uniformBox } from '../../test/detectors/helpers/attacks.ts';
import { humanTimes, naturalKey, scriptTimes, World } from '../../test/detectors/helpers/world.ts';

const T0 = Date.UTC(2024, 0, 15, 8);
const HOUR = 3_600_000;

/** Warm-up events (an hour of natural traffic, so model baselines exist), then the measured keys' events, each in event-time order. */
export interface KeyTraffic {
  warm: InferenceEvent[];
  events: InferenceEvent[];
  measured: string[];
}

/**
 * Events for `keys` keys of `history` events each, in the synthetic
 * deployment of the detector tests (test/detectors/helpers/world.ts): half
 * the keys natural, a quarter Lowd & Meek line searches, a quarter spreading
 * queries over the input box — the patterns that fill the detectors' state
 * most. Deterministic in (history, keys).
 */
export function keyTraffic(history: number, keys: number): KeyTraffic {
  const world = new World({ seed: history });
  const warm: InferenceEvent[] = [];
  for (let k = 0; k < 30; k++) warm.push(...naturalKey(world, `warm-${k}`, 120, humanTimes(world, 120, T0, 20_000)));
  const start = T0 + HOUR;
  const measured: string[] = [];
  const events: InferenceEvent[] = [];
  for (let k = 0; k < keys; k++) {
    const key = `k${k}`;
    measured.push(key);
    const times = k % 4 < 2 ? humanTimes(world, history, start, 20_000) : scriptTimes(world, history, start, 1_000);
    if (k % 4 < 2) events.push(...naturalKey(world, key, history, times, { tenant: `t${k % 5}`, clientIp: `10.1.${k % 50}.${k % 250}` }));
    else if (k % 4 === 2) events.push(...lineSearches(world, key, Math.ceil(history / 12), 10, times).slice(0, history));
    else events.push(...uniformBox(world, key, times, 5, { tenant: `t${k % 5}`, clientIp: `198.51.100.${k % 250}` }));
  }
  const byTime = (a: InferenceEvent, b: InferenceEvent) => a.ts - b.ts;
  return { warm: warm.sort(byTime), events: events.sort(byTime), measured };
}
