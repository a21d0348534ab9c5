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

/** Most worker threads `--workers` accepts. */
export const MAX_WORKERS = 64;

/** How a detector is offloaded; detectors with the same `with` go to the same worker. */
export interface Offloading {
  mode: OffloadMode;
  /**
   * Detectors that ask the model reference for the neighbourhood of each
   * query share one answer per query on a thread (`ModelReference` remembers
   * it): run apart, each thread would search again.
   */
  with?: string;
}

export const OFFLOADED: Readonly<Record<string, Offloading>> = {
  // Keeps nothing across keys, so it could be sharded; whole, one worker compiles and warms up its code instead of
  // every worker (each thread's JIT starts cold), and the units balance as well on two workers.
  'grid-sweep': { mode: 'whole' },
  'recurring-offsets': { mode: 'whole' },
  'off-manifold': { mode: 'whole', with: 'neighbours' },
  'boundary-probing': { mode: 'whole', with: 'neighbours' },
  entropy: { mode: 'whole', with: 'neighbours' },
  'output-drift': { mode: 'whole' },
};

/**
 * Relative cost per event of each offloaded detector, to balance the
 * workers (rough shares from `npm run bench:detectors`; only the speed
 * depends on them, never the output).
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

/**
 * Spreads the offloaded detectors among `workers` workers: sharded ones on
 * every worker (each on its shard of the keys), whole ones — alone or with
 * those they go `with` — on the least loaded worker, largest first.
 */
export function planOffload(detectorNames: readonly string[], workers: number, offloaded: Readonly<Record<string, Offloading>> = OFFLOADED): WorkerAssignment[] {
  const names = detectorNames.filter((n) => n in offloaded);
  const sharded = names.filter((n) => offloaded[n].mode === 'sharded');
  const units = new Map<string, string[]>();
  for (const n of names) {
    if (offloaded[n].mode !== 'whole') continue;
    const unit = offloaded[n].with ?? n;
    units.set(unit, [...(units.get(unit) ?? []), n]);
  }
  const cost = (unit: string[]) => unit.reduce((s, n) => s + (COST[n] ?? 1), 0);
  const ordered = [...units.values()].sort((a, b) => cost(b) - cost(a) || (a[0] < b[0] ? -1 : 1));
  const load = new Array<number>(workers).fill(cost(sharded) / workers);
  const plan: WorkerAssignment[] = Array.from({ length: workers }, () => ({ detectors: sharded.map((name) => ({ name, mode: 'sharded' as const })) }));
  for (const unit of ordered) {
    const w = load.indexOf(Math.min(...load));
    for (const name of unit) plan[w].detectors.push({ name, mode: 'whole' });
    load[w] += cost(unit);
  }
  return plan;
}

/** The worker whose shard a key is in (FNV-1a of the key): fixed for a given worker count. */
export function shardOf(key: string, workers: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % workers;
}
