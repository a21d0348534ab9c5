/**
 * Which detectors `replay --workers N` runs on worker threads, and how.
 *
 * - `sharded`: the detector keeps nothing across keys within a batch (no
 *   aggregate entity, only the frozen model reference), so each worker runs
 *   it on its shard of the keys.
 * - `whole`: the detector reads and writes per-model baselines in event time
 *   across keys (`ctx.aggregate('model:…')`), so one worker owns it — its
 *   per-key state and its model entities — and runs it over every key, in
 *   the same order as one thread would.
 *
 * Everything else stays on the main thread: volume (per-IP and per-prefix
 * windows shared by every key), the aggregates detector (tenant, network and
 * geometry views across keys), the model references' feed, peer calibration,
 * fusion and the ladder.
 */
export type OffloadMode = 'sharded' | 'whole';

export const OFFLOADED: Readonly<Record<string, OffloadMode>> = {
  'grid-sweep': 'sharded',
  'off-manifold': 'sharded',
  'recurring-offsets': 'whole',
  'boundary-probing': 'whole',
  entropy: 'whole',
  'output-drift': 'whole',
};

/**
 * Relative cost per event of each offloaded detector, to balance the
 * `whole` ones over the workers (rough shares from `npm run bench:detectors`;
 * only the speed depends on them, never the output).
 */
const COST: Readonly<Record<string, number>> = {
  'grid-sweep': 10,
  'off-manifold': 6,
  'recurring-offsets': 10,
  'boundary-probing': 13,
  entropy: 17,
  'output-drift': 3,
};

/** One worker's share: the detectors it runs, each on its shard of the keys or on all of them. */
export interface WorkerAssignment {
  detectors: { name: string; mode: OffloadMode }[];
}

/** Spreads the offloaded detectors among `workers` workers: sharded ones on every worker, whole ones on the least loaded. */
export function planOffload(detectorNames: readonly string[], workers: number): WorkerAssignment[] {
  const offloaded = detectorNames.filter((n) => n in OFFLOADED);
  const sharded = offloaded.filter((n) => OFFLOADED[n] === 'sharded');
  const whole = offloaded.filter((n) => OFFLOADED[n] === 'whole').sort((a, b) => (COST[b] ?? 1) - (COST[a] ?? 1) || (a < b ? -1 : 1));
  const shardLoad = sharded.reduce((s, n) => s + (COST[n] ?? 1), 0) / workers;
  const load = new Array<number>(workers).fill(shardLoad);
  const plan: WorkerAssignment[] = Array.from({ length: workers }, () => ({ detectors: sharded.map((name) => ({ name, mode: 'sharded' as const })) }));
  for (const name of whole) {
    const w = load.indexOf(Math.min(...load));
    plan[w].detectors.push({ name, mode: 'whole' });
    load[w] += COST[name] ?? 1;
  }
  return plan;
}

/** The worker whose shard a key is in (FNV-1a of the key): fixed for a given worker count. */
export function shardOf(key: string, workers: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % workers;
}
