import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../../benchmarks/quality/Rng.ts';
import { buildVictimWorld, type VictimWorld } from '../../../benchmarks/quality/Victim.ts';
import { loadWeatherData } from '../../../benchmarks/quality/weatherData.ts';
import { noEnforcement, type Enforcement } from '../../../benchmarks/quality/world/Enforcement.ts';
import { Gateway } from '../../../benchmarks/quality/world/Gateway.ts';
import type { Actor } from '../../../benchmarks/quality/world/types.ts';
import { type PipelineUnderTest, World, type WorldRecord } from '../../../benchmarks/quality/world/World.ts';

const worlds = new Map<number, VictimWorld>();

/** A small victim (few training passes), cached per seed within a test file. */
export async function smallVictimWorld(seed = 3): Promise<VictimWorld> {
  await tf.setBackend('cpu');
  let w = worlds.get(seed);
  if (!w) worlds.set(seed, (w = buildVictimWorld(loadWeatherData(), { seed, hidden: [16], passes: 12_000 })));
  return w;
}

/** Runs actors in a World against `pipelines` (none: no detection, just the gateway and the victim). */
export async function simulate(
  world: VictimWorld,
  actors: Actor[],
  options: { pipelines?: PipelineUnderTest[]; enforcement?: Enforcement; pollMs?: number; seed?: number; onEvent?: (e: import('../../../src/contract.ts').InferenceEvent) => void } = {},
): Promise<WorldRecord> {
  const sim = new World({
    victim: world.victim,
    gateway: new Gateway(world, new Rng(options.seed ?? 1).fork('gateway')),
    enforcement: options.enforcement ?? noEnforcement,
    pipelines: options.pipelines ?? [],
    pollMs: options.pollMs ?? 5000,
    fireScore: 0.5,
    onEvent: options.onEvent,
  });
  return sim.run(actors);
}
