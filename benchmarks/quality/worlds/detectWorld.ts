import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../../src/config/configSchema.ts';
import type { Compute } from '../../../src/compute/Compute.ts';
import { formatEventLine } from '../../../src/codec/ndjson.ts';
import { DetectionPipeline } from '../../../src/pipeline/DetectionPipeline.ts';
import { detectorTraits } from '../../../src/fusion/detectorKinds.ts';
import type { Logger } from '../../../src/observability/logger.ts';
import type { SurrogateSpec } from '../attacks/Attack.ts';
import { firstAtLeast, median, type Reach } from '../Measure.ts';
import { type ReplayCheck, replayCheck } from '../replayCheck.ts';
import { Rng } from '../Rng.ts';
import { buildCast, type ScenarioSize } from '../Scenario.ts';
import { noEnforcement, RESPONSE_VARIANTS, sdkEnforcement } from '../world/Enforcement.ts';
import { Gateway } from '../world/Gateway.ts';
import { type KeyTrace, World, type WorldRecord } from '../world/World.ts';
import type { BuiltWorld } from './WorldSpec.ts';
import { type WorldSurrogates, worldSurrogates } from './worldSurrogates.ts';

/** How one population fared in one world. */
export interface PopulationDetection {
  population: string;
  kind: 'attack' | 'benign';
  /** Keys at ≥ throttle, with the median of their calls when they got there. */
  throttle: Reach;
  truncate: Reach;
  /**
   * Attacks: the median over keys of calls to ≥ truncate that the bar
   * counts (calls after the campaign's `graceCalls`), Infinity = never.
   */
  barCalls: number;
  /** Calls the population made in all. */
  calls: number;
  maxRisk: number;
  /** Attacks, with `DetectOptions.surrogate`: the campaign's surrogate agreement with the victim on held-out data. */
  agreement?: number;
  /**
   * With `DetectOptions.responses`: the same world again with the gateway enforcing the levels probewatch
   * decides (the SDK's default responses). Attacks: the surrogate trained on what the campaign received there.
   * Benign: calls, refused calls and answers altered (truncated to a label that differs, or deceived).
   */
  responses?: { agreement?: number; calls: number; refused: number; altered: number };
}

/** One world's detection, checked against `probewatch replay`. */
export interface WorldDetection {
  name: string;
  seed: number;
  /** Data set and victim, one line. */
  description: string;
  victim: string;
  accuracy: number;
  events: number;
  keys: number;
  /**
   * Wall time of building the world and the victim, of the simulation, and
   * of the replay check, and the process's CPU time for all three (s; on a
   * shared machine CPU time is what an idle one would take).
   */
  seconds: { build: number; simulate: number; replay: number; cpu: number };
  replay: ReplayCheck;
  populations: PopulationDetection[];
  /** With `DetectOptions.surrogate`: the chance floor of agreement (the victim's majority held-out class) and the training time (s). */
  surrogates?: { chanceFloor: number; seconds: number };
  /** How close the world's honest keys came to being punished (`honestMargin`). */
  honestMargin: HonestMargin;
}

/**
 * The honest key nearest to truncate on each of the two roads fusion leaves
 * open: the highest risk any honest key reached, and the highest score of an
 * extraction-signature detector (which needs no second family) at the end of
 * a poll. A bar met with 0.69 on either is met by luck in the next world.
 */
export interface HonestMargin {
  risk: { value: number; population: string };
  signature: { value: number; detector: string; population: string };
}

/**
 * The honest margin of a world: the risk from its populations' `maxRisk`, the signature score from its
 * traces; `signatures`: the detectors whose whole score is a signature.
 */
export function honestMargin(populations: readonly PopulationDetection[], traces: readonly KeyTrace[], signatures: ReadonlySet<string>): HonestMargin {
  const margin: HonestMargin = { risk: { value: 0, population: '—' }, signature: { value: 0, detector: '—', population: '—' } };
  for (const p of populations) if (p.kind === 'benign' && p.maxRisk > margin.risk.value) margin.risk = { value: p.maxRisk, population: p.population };
  for (const t of traces) {
    if (t.kind === 'attack') continue;
    for (const [detector, score] of Object.entries(t.maxScore)) {
      if (signatures.has(detector) && score > margin.signature.value) margin.signature = { value: score, detector, population: t.population };
    }
  }
  return margin;
}

export interface DetectOptions {
  pollMs: number;
  /** The pipeline's error log (detector failures), when the caller counts them. */
  logger?: Logger;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Also write the world's events (`<name>-<seed>.ndjson`) and each key's population (`….keys.csv`) here, to replay under other configs. */
  eventsDir?: string;
  /** Also train each attack campaign's surrogate of this shape and measure its agreement (`worldSurrogates`). */
  surrogate?: SurrogateSpec;
  /**
   * With `surrogate`: also simulate the world with the gateway enforcing probewatch's levels (the SDK's
   * default responses, bench:quality's first responses variant) and train each campaign's surrogate on what
   * it received there.
   */
  responses?: boolean;
}

const PIPELINE = 'probewatch';

/**
 * Detection in one world: its cast (`buildCast`, with `castExtras`)
 * against the default pipeline in the unprotected world, at `pollMs`
 * polls in event time; then every event through `probewatch replay`'s
 * own code, which must end every key on the same RiskScore.
 */
export async function detectWorld(built: BuiltWorld, buildSeconds: number, size: ScenarioSize, config: Readonly<Config>, compute: Compute, options: DetectOptions): Promise<WorldDetection> {
  const { world, spec } = built;
  const rng = new Rng(spec.seed).fork(`world-${spec.name}`);
  const cast = buildCast(world, size, rng.fork('cast'));
  const pipeline = new DetectionPipeline(config, { compute, ...(options.logger ? { logger: options.logger } : {}) });
  const lines: string[] = [];
  const simulation = new World({
    victim: world.victim,
    gateway: new Gateway(world, rng.fork('gateway')),
    enforcement: noEnforcement,
    pipelines: [{ name: PIPELINE, pipeline }],
    pollMs: options.pollMs,
    fireScore: config.policy.thresholds.throttle,
    onEvent: (e) => lines.push(formatEventLine(e)),
  });
  const started = performance.now();
  const record = await simulation.run([...cast.benign, ...cast.attacks]);
  const simulate = (performance.now() - started) / 1000;
  options.log?.(`${spec.name}#${spec.seed}: ${record.events} events from ${record.keys.size} keys in ${simulate.toFixed(0)} s`);
  if (options.eventsDir) {
    mkdirSync(options.eventsDir, { recursive: true });
    const base = join(options.eventsDir, `${spec.name}-${spec.seed}`);
    writeFileSync(`${base}.ndjson`, lines.join('\n') + '\n');
    const keys = [...record.keys.values()].map((t) => `${t.key},${t.kind === 'attack' ? 'attack' : 'benign'},${t.population}`);
    writeFileSync(`${base}.keys.csv`, ['api_key,label,population', ...keys].join('\n') + '\n');
  }
  const replay = await replayCheck(lines, config, pipeline.finalScores());
  options.log?.(`${spec.name}#${spec.seed}: replay check ${replay.mismatched === 0 ? 'identical' : `${replay.mismatched} keys differ`} (${replay.seconds.toFixed(0)} s)`);

  const stolen = options.surrogate ? await worldSurrogates(record, world, options.surrogate, spec.seed) : undefined;
  if (stolen) options.log?.(`${spec.name}#${spec.seed}: ${stolen.agreement.size} surrogates trained (${stolen.seconds.toFixed(0)} s)`);
  const guarded = options.surrogate && options.responses ? await responsesWorld(built, size, config, compute, options, options.surrogate) : undefined;

  const grace = new Map<string, number>();
  for (const a of cast.attacks) if (a.graceCalls) grace.set(a.population, a.graceCalls);
  const traces = [...record.keys.values()];
  const populations = [...new Set(record.actors.map((a) => a.actor.population))].map((population): PopulationDetection => {
    const own = traces.filter((t) => t.population === population);
    const kind = own[0].kind === 'attack' ? 'attack' : 'benign';
    const at = (t: KeyTrace, level: 'throttle' | 'truncate') => firstAtLeast(t.changes[PIPELINE] ?? [], level)?.eventsSeen ?? Infinity;
    const reachOf = (level: 'throttle' | 'truncate'): Reach => {
      const calls = own.map((t) => at(t, level));
      return { keys: calls.filter(Number.isFinite).length, of: own.length, median: median(calls) };
    };
    const g = grace.get(population) ?? 0;
    const agreement = stolen?.agreement.get(population);
    const responses = guarded && responsesOf(guarded.record, population, guarded.stolen.agreement.get(population));
    return {
      population,
      kind,
      throttle: reachOf('throttle'),
      truncate: reachOf('truncate'),
      barCalls: median(own.map((t) => Math.max(0, at(t, 'truncate') - g))),
      calls: own.reduce((s, t) => s + t.times.length, 0),
      maxRisk: Math.max(0, ...own.flatMap((t) => t.risk.map(([, r]) => r))),
      ...(agreement !== undefined ? { agreement } : {}),
      ...(responses ? { responses } : {}),
    };
  });
  return {
    name: spec.name,
    seed: spec.seed,
    description: built.description,
    victim: built.victimKind.name,
    accuracy: world.accuracy,
    events: record.events,
    keys: record.keys.size,
    seconds: { build: buildSeconds, simulate, replay: replay.seconds, cpu: NaN },
    replay,
    populations,
    ...(stolen ? { surrogates: { chanceFloor: stolen.chanceFloor, seconds: stolen.seconds } } : {}),
    honestMargin: honestMargin(populations, traces, SIGNATURES),
  };
}

/**
 * The world again, same seed and cast, with the gateway enforcing the levels a fresh pipeline decides
 * (`RESPONSE_VARIANTS[0]`, the SDK's defaults), and every campaign's surrogate trained on what it received.
 */
async function responsesWorld(built: BuiltWorld, size: ScenarioSize, config: Readonly<Config>, compute: Compute, options: DetectOptions, surrogate: SurrogateSpec): Promise<{ record: WorldRecord; stolen: WorldSurrogates }> {
  const { world, spec } = built;
  const rng = new Rng(spec.seed).fork(`world-${spec.name}`);
  const cast = buildCast(world, size, rng.fork('cast'));
  const variant = RESPONSE_VARIANTS[0];
  const simulation = new World({
    victim: world.victim,
    gateway: new Gateway(world, rng.fork('gateway')),
    enforcement: sdkEnforcement(variant.name, variant.settings, spec.seed),
    pipelines: [{ name: PIPELINE, pipeline: new DetectionPipeline(config, { compute, ...(options.logger ? { logger: options.logger } : {}) }) }],
    pollMs: options.pollMs,
    fireScore: config.policy.thresholds.throttle,
  });
  const started = performance.now();
  const record = await simulation.run([...cast.benign, ...cast.attacks]);
  options.log?.(`${spec.name}#${spec.seed}: ${variant.name} world, ${record.events} events in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  const stolen = await worldSurrogates(record, world, surrogate, spec.seed, 'received');
  options.log?.(`${spec.name}#${spec.seed}: ${stolen.agreement.size} surrogates trained on what they received (${stolen.seconds.toFixed(0)} s)`);
  return { record, stolen };
}

/** One population's calls, refusals and altered answers in a responses world, with its campaign's surrogate there. */
function responsesOf(record: WorldRecord, population: string, agreement: number | undefined): NonNullable<PopulationDetection['responses']> {
  const actors = record.actors.filter((r) => r.actor.population === population);
  return {
    calls: actors.reduce((s, r) => s + r.calls, 0),
    refused: actors.reduce((s, r) => s + r.refused, 0),
    altered: actors.reduce((s, r) => s + r.altered, 0),
    ...(agreement !== undefined ? { agreement } : {}),
  };
}

/** Registry detectors whose whole score is an extraction signature. */
const SIGNATURES: ReadonlySet<string> = new Set([...detectorTraits()].filter(([, t]) => t.signature === true).map(([name]) => name));
