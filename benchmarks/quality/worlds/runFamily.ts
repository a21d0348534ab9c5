import * as tf from '@tensorflow/tfjs';
import type { Compute } from '../../../src/compute/Compute.ts';
import type { Config } from '../../../src/config/configSchema.ts';
import type { Logger } from '../../../src/observability/logger.ts';
import type { SurrogateSpec } from '../attacks/Attack.ts';
import type { ScenarioSize } from '../Scenario.ts';
import { detectWorld, type WorldDetection } from './detectWorld.ts';
import { buildWorld, type WorldSpec } from './WorldSpec.ts';

export interface FamilyOptions {
  pollMs: number;
  /** Scales every victim's training passes (the CI subset trains small victims). */
  victimPassesScale?: number;
  logger?: Logger;
  log?: (line: string) => void;
  /** Also write each world's events and key populations here (see `DetectOptions.eventsDir`). */
  eventsDir?: string;
  /** Also train and measure each attack campaign's surrogate (see `DetectOptions.surrogate`). */
  surrogate?: SurrogateSpec;
  /** With `surrogate`: also measure what each campaign keeps under the default responses (see `DetectOptions.responses`). */
  responses?: boolean;
}

/**
 * Detection in every world of `specs`, one after the other: build the
 * data and the victim (tfjs cpu backend), then `detectWorld`. Victims are
 * disposed when their world is done.
 */
export async function runFamily(specs: readonly WorldSpec[], size: ScenarioSize, config: Readonly<Config>, compute: Compute, options: FamilyOptions): Promise<WorldDetection[]> {
  const out: WorldDetection[] = [];
  for (const spec of specs) {
    await tf.setBackend('cpu');
    const started = performance.now();
    const cpu = process.cpuUsage();
    const built = buildWorld(spec, options.victimPassesScale ?? 1);
    const buildSeconds = (performance.now() - started) / 1000;
    options.log?.(`${spec.name}#${spec.seed}: ${built.victimKind.name} victim, accuracy ${(100 * built.world.accuracy).toFixed(1)}%, built in ${buildSeconds.toFixed(0)} s`);
    try {
      const detection = await detectWorld(built, buildSeconds, size, config, compute, options);
      const used = process.cpuUsage(cpu);
      detection.seconds.cpu = (used.user + used.system) / 1e6;
      out.push(detection);
    } finally {
      built.world.victim.model.dispose();
    }
  }
  return out;
}
