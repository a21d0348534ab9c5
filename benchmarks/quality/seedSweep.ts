import type { Config } from '../../src/config/configSchema.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import { median, reach, type Reach } from './Measure.ts';
import { Rng } from './Rng.ts';
import { buildCast, type ScenarioSize } from './Scenario.ts';
import { buildVictimWorld } from './Victim.ts';
import type { TabularData } from './data/TabularData.ts';
import { noEnforcement } from './world/Enforcement.ts';
import { Gateway } from './world/Gateway.ts';
import { World, type WorldRecord } from './world/World.ts';

/** Detection in one population of one seed's unprotected world. */
export interface SeedPopulation {
  population: string;
  kind: 'attack' | 'benign';
  throttle: Reach;
  truncate: Reach;
  maxRisk: number;
}

export interface SeedDetection {
  seed: number;
  events: number;
  populations: SeedPopulation[];
}

/**
 * Detection only, for another seed: a new victim, cast and unprotected
 * world built exactly as the main run builds its own (same sizes, same
 * forks of the seed), scored by a fresh pipeline on `config`. No responses
 * worlds and no surrogates: this is how much the detection numbers move
 * with the world, not a second measurement of the stolen copies.
 */
export async function detectionForSeed(seed: number, data: TabularData, size: ScenarioSize, config: Readonly<Config>, compute: Compute, pollMs: number): Promise<SeedDetection> {
  const rng = new Rng(seed);
  const world = buildVictimWorld(data, { seed, hidden: size.victimHidden, passes: size.victimPasses });
  const cast = buildCast(world, size, rng.fork('cast'));
  const simulation = new World({
    victim: world.victim,
    gateway: new Gateway(world, rng.fork('gateway')),
    enforcement: noEnforcement,
    pipelines: [{ name: 'probewatch', pipeline: new DetectionPipeline(config, { compute }) }],
    pollMs,
    fireScore: config.policy.thresholds.throttle,
  });
  const record = await simulation.run([...cast.benign, ...cast.attacks]);
  return seedDetection(seed, record, 'probewatch');
}

/** Detection per population of a simulated world, as scored by `pipeline`. */
export function seedDetection(seed: number, record: WorldRecord, pipeline: string): SeedDetection {
  const populations = [...new Set(record.actors.map((a) => a.actor.population))].map((population) => {
    const traces = [...record.keys.values()].filter((t) => t.population === population);
    return {
      population,
      kind: traces[0].kind === 'attack' ? ('attack' as const) : ('benign' as const),
      throttle: reach(traces, pipeline, 'throttle'),
      truncate: reach(traces, pipeline, 'truncate'),
      maxRisk: Math.max(0, ...traces.flatMap((t) => t.risk.map(([, r]) => r))),
    };
  });
  return { seed, events: record.events, populations };
}

const reachCell = (r: Reach) => `${r.keys}/${r.of} (${Number.isFinite(r.median) ? r.median : 'never'})`;

/**
 * One row per population, one column group per seed: attacks by keys at ≥
 * truncate (median calls), benign populations by keys at ≥ throttle and ≥
 * truncate and their highest risk; then the medians over seeds of each
 * attack's median calls to truncate.
 */
export function seedTable(runs: readonly SeedDetection[]): string {
  const populations = runs[0].populations;
  const head = ['population', ...runs.map((r) => `seed ${r.seed}`), 'median over seeds'];
  const rows = populations.map((p) => {
    const cells = runs.map((r) => {
      const q = r.populations.find((x) => x.population === p.population)!;
      return p.kind === 'attack' ? `≥ truncate ${reachCell(q.truncate)}` : `≥ throttle ${q.throttle.keys}/${q.throttle.of}, ≥ truncate ${q.truncate.keys}/${q.truncate.of}, max risk ${q.maxRisk.toFixed(3)}`;
    });
    const over = runs.map((r) => r.populations.find((x) => x.population === p.population)!);
    const calls = median(over.map((q) => q.truncate.median));
    const summary = p.kind === 'benign' ? `${over.reduce((s, q) => s + q.truncate.keys, 0)} keys at ≥ truncate in all` : Number.isFinite(calls) ? `${calls} calls` : 'never';
    return [p.population, ...cells, summary];
  });
  return [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** The bar of issue 4 read across seeds: attacks by their median over seeds, benign keys at truncate on any seed. */
export function seedBarLine(runs: readonly SeedDetection[]): string {
  const attacks = runs[0].populations.filter((p) => p.kind === 'attack').map((p) => p.population);
  const medians = attacks.map((a) => ({ a, m: median(runs.map((r) => r.populations.find((p) => p.population === a)!.truncate.median)) }));
  const missed = medians.filter((x) => !(x.m <= 100));
  const flagged = runs[0].populations
    .filter((p) => p.kind === 'benign')
    .map((p) => ({ p: p.population, by: runs.map((r) => r.populations.find((q) => q.population === p.population)!.truncate.keys) }))
    .filter((x) => x.by.some((n) => n > 0));
  const total = flagged.reduce((s, x) => s + x.by.reduce((a, b) => a + b, 0), 0);
  return (
    `Across seeds ${runs.map((r) => r.seed).join(', ')}: median over seeds ≤ 100 calls to ≥ truncate for ${attacks.length - missed.length}/${attacks.length} attacks` +
    `${missed.length ? ` (missed: ${missed.map((x) => `${x.a} ${Number.isFinite(x.m) ? x.m : 'never'}`).join(', ')})` : ''}; ` +
    `benign keys at ≥ truncate: ${total === 0 ? 'none' : `${total} (${flagged.map((x) => `${x.p} ${x.by.join('/')} by seed`).join(', ')})`}.`
  );
}
