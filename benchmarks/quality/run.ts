/**
 * Detection-quality benchmark (issue 4): real attack algorithms against a
 * real victim model, benign populations beside them, all through the
 * gateway SDK's event builder and probewatch's DetectionPipeline in event
 * time. `npm run bench:quality [-- --quick] [--seed N]`.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import pino from 'pino';
import { formatEventLine } from '../../src/codec/ndjson.ts';
import { createKernels } from '../../src/compute/createKernels.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import { defaultConfig, enabledDetectors, PRADA_DETECTOR, pradaOnlyConfig } from './baselines/pipelines.ts';
import { type AttackRow, type BenignRow, measureAttack, measureAttackResponse, measureBenign, measureBenignResponse } from './Measure.ts';
import { describeMachine } from '../utils/machine.ts';
import { replaceResultsBlock } from '../utils/results.ts';
import { replayCheck } from './replayCheck.ts';
import { detectionForSeed, type SeedDetection, seedBarLine, seedDetection, seedTable } from './seedSweep.ts';
import { riskVsQueriesSvg } from './report/riskPlot.ts';
import { attackTable, barChecks, benignResponseTable, benignTable, detectorTable, pct, responseTable } from './report/tables.ts';
import { Rng } from './Rng.ts';
import { buildCast, FULL, QUICK } from './Scenario.ts';
import { buildVictimWorld } from './Victim.ts';
import { loadWeatherData } from './weatherData.ts';
import { type Enforcement, noEnforcement, RESPONSE_VARIANTS, sdkEnforcement } from './world/Enforcement.ts';
import { Gateway } from './world/Gateway.ts';
import { DAY, SIM_EPOCH } from './world/Schedule.ts';
import { type PipelineUnderTest, World, type WorldRecord } from './world/World.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    quick: { type: 'boolean', default: false },
    /** Write RESULTS.md and the SVG (default for full runs, not for --quick). */
    write: { type: 'boolean' },
    dry: { type: 'boolean', default: false },
    /** Also write every event of the unprotected world as NDJSON, for `probewatch replay FILE` (each responses world's beside it, FILE.<world>.ndjson). */
    events: { type: 'string' },
    /** Also write each key's label (CSV `api_key,label`, attack or benign), for `probewatch train`. */
    labels: { type: 'string' },
    /** Also write the per-row details as JSON. */
    json: { type: 'string' },
    'poll-ms': { type: 'string', default: '5000' },
    /** Also measure detection (unprotected world only, no surrogates) on these seeds, e.g. `2,3`: a table of how much it moves with the world. */
    'also-seeds': { type: 'string' },
    /** Skip the worlds with responses enforced (faster; the response columns print n/a). */
    'no-responses': { type: 'boolean', default: false },
  },
});

const log = (msg: string) => process.stderr.write(`[bench:quality] ${msg}\n`);

async function main(): Promise<void> {
  const started = performance.now();
  const seed = Number(args.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${args.seed}`);
  const size = args.quick ? QUICK : FULL;
  const write = !args.dry && (args.write ?? !args.quick);
  const pollMs = Number(args['poll-ms']);
  await tf.setBackend('cpu');
  await tf.ready();
  const rng = new Rng(seed);

  const data = loadWeatherData();
  const world = buildVictimWorld(data, { seed, hidden: size.victimHidden, passes: size.victimPasses });
  log(`victim: MLP ${size.victimHidden.join('-')} on ${world.train.length} Seattle days, test accuracy ${pct(world.accuracy)}, majority-class agreement ${pct(world.majorityAgreement)}`);
  // Every world gets a fresh cast from the same fork: the same actors, drawing the same numbers until an answer differs.
  const castFor = () => buildCast(world, size, rng.fork('cast'));
  const cast = castFor();

  const config = defaultConfig();
  // The kernels `run` and `replay` use (`createKernels`), so the simulation scores as `replay` does.
  const compute = await createKernels(config.compute);
  await tf.setBackend('cpu'); // the models' backend; probewatch's Compute re-activates its own on every call
  const detectorErrors = new Map<string, number>();
  let firstError = '';
  const logger = pino({ level: 'error' }, {
    write(line: string) {
      const entry = JSON.parse(line) as { detector?: string; err?: { message?: string } };
      const name = entry.detector ?? 'unknown';
      detectorErrors.set(name, (detectorErrors.get(name) ?? 0) + 1);
      firstError ||= `${name}: ${entry.err?.message ?? line.trim()}`;
    },
  });
  const pipelines: PipelineUnderTest[] = [{ name: 'probewatch', pipeline: new DetectionPipeline(config, { compute, logger }) }];
  const prada = pradaOnlyConfig();
  if (prada) pipelines.push({ name: 'prada', pipeline: new DetectionPipeline(prada, { compute, logger }) });
  const detectors = enabledDetectors(config);
  log(`detectors: ${detectors.join(', ')}; PRADA baseline: ${prada ? PRADA_DETECTOR : 'n/a (grid-sweep not registered)'}; compute backend ${compute.backend}`);

  /** NDJSON lines of each world's events, by world name ('unprotected' or the responses variant's). */
  const eventLines = new Map<string, string[]>();
  let simSeconds = 0;
  /** One world: a fresh cast, gateway and pipelines, every answer through `enforcement`. */
  const simulate = async (enforcement: Enforcement, under: PipelineUnderTest[], actors = castFor()): Promise<WorldRecord> => {
    let lastDay = -1;
    const lines: string[] = [];
    if (args.events || !enforcement.active) eventLines.set(enforcement.active ? enforcement.name : 'unprotected', lines);
    const simulation = new World({
      victim: world.victim,
      gateway: new Gateway(world, rng.fork('gateway')),
      enforcement,
      pipelines: under,
      pollMs,
      fireScore: config.policy.thresholds.throttle,
      onEvent: (e) => {
        if (args.events || !enforcement.active) lines.push(formatEventLine(e));
        const day = Math.floor((e.ts - SIM_EPOCH) / DAY);
        if (day > lastDay) {
          lastDay = day;
          log(`${enforcement.active ? enforcement.name : 'unprotected'}: simulating day ${day + 1}/${size.days} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
        }
      },
    });
    const simStarted = performance.now();
    const out = await simulation.run([...actors.benign, ...actors.attacks]);
    const seconds = (performance.now() - simStarted) / 1000;
    simSeconds += seconds;
    log(`${enforcement.active ? enforcement.name : 'unprotected'}: simulated ${out.events} events in ${out.polls} polls, ${seconds.toFixed(0)} s`);
    return out;
  };
  const record = await simulate(noEnforcement, pipelines, cast);
  const replayed = await replayCheck(eventLines.get('unprotected')!, config, pipelines[0].pipeline.finalScores());
  log(`replay check: ${replayed.events} events, ${replayed.keys} keys, ${replayed.mismatched} mismatched, ${replayed.seconds.toFixed(0)} s`);
  if (replayed.mismatched > 0) process.exitCode = 1;
  if (!args.events) eventLines.delete('unprotected');
  const variants = args['no-responses'] ? [] : RESPONSE_VARIANTS;
  const protectedRecords = new Map<string, WorldRecord>();
  for (const v of variants) {
    const probewatch = new DetectionPipeline(config, { compute, logger });
    protectedRecords.set(v.name, await simulate(sdkEnforcement(v.name, v.settings, seed), [{ name: 'probewatch', pipeline: probewatch }]));
  }
  log('measuring surrogates');
  if (args.events) {
    for (const [name, lines] of eventLines) {
      const path = name === 'unprotected' ? args.events : args.events.replace(/(\.ndjson)?$/, `.${name.replace(/[^a-z0-9]+/gi, '-')}.ndjson`);
      writeFileSync(path, lines.join('\n') + '\n');
    }
  }
  if (args.labels) writeFileSync(args.labels, ['api_key,label', ...record.actors.flatMap((r) => r.actor.keys.map((k) => `${k.apiKey},${r.actor.kind}`))].join('\n') + '\n');

  const weights = Object.fromEntries(detectors.map((d) => [d, (config.detectors as Record<string, { weight: number }>)[d].weight]));
  const ctx = {
    world,
    surrogate: size.surrogate,
    primary: 'probewatch',
    baseline: prada ? 'prada' : undefined,
    weights,
    detectors,
    seed,
  };
  const attackRows: AttackRow[] = record.actors.filter((r) => r.actor.kind === 'attack').map((r) => measureAttack(record, r, ctx));
  const populations = [...new Set(cast.benign.map((a) => a.population))];
  const benignRows: BenignRow[] = populations.map((p) => measureBenign(record, p, ctx));
  for (const [name, r] of protectedRecords) {
    for (const row of attackRows) row.responses[name] = measureAttackResponse(r, row.id, ctx);
    for (const row of benignRows) row.responses[name] = measureBenignResponse(r, row.population, ctx);
  }
  const variantNames = variants.map((v) => v.name);
  const extraSeeds = (args['also-seeds'] ?? '').split(',').filter(Boolean).map(Number);
  if (extraSeeds.some((s) => !Number.isInteger(s))) throw new Error(`--also-seeds must be integers separated by commas, got ${args['also-seeds']}`);
  const seedRuns: SeedDetection[] = [seedDetection(seed, record, 'probewatch')];
  for (const s of extraSeeds) {
    log(`seed ${s}: detection only (unprotected world)`);
    seedRuns.push(await detectionForSeed(s, data, size, config, compute, pollMs));
  }
  const seconds = (performance.now() - started) / 1000;

  const command = `npm run bench:quality --${args.quick ? ' --quick' : ''} --seed ${seed}${extraSeeds.length ? ` --also-seeds ${extraSeeds.join(',')}` : ''}`;
  const errorsLine = detectorErrors.size
    ? `Detector errors (caught by the pipeline, scored 0): ${[...detectorErrors].map(([d, n]) => `${d} ×${n}`).join(', ')}; first: ${firstError}`
    : 'Detector errors: none.';
  const svgPath = join(here, 'risk-vs-queries.svg');
  const dryShare = world.test.filter((r) => r.raw[0] === 0).length / world.test.length;
  const [pLo, pHi] = [world.standardizer.invert(world.box.lo)[0], world.standardizer.invert(world.box.hi)[0]];
  const dryRange = Math.max(0, 0.05 - pLo) / (pHi - pLo);
  const summary = [
    `- Command: \`${command}\` (${size.name}: ${size.days} simulated day${size.days > 1 ? 's' : ''}, ${size.budget} attack queries per campaign, poll ${pollMs / 1000} s)`,
    `- Date: ${new Date().toISOString()}; wall time ${seconds.toFixed(0)} s (simulation ${simSeconds.toFixed(0)} s)`,
    `- Machine: ${describeMachine()}; models on tfjs cpu, probewatch kernels as replay picks them (TensorFlow.js backend ${compute.backend} only where it rounds as plain JS does)`,
    `- Victim: TensorFlow.js MLP ${size.victimHidden.join('-')} over ${world.features.join(', ')} (vega-datasets weather.csv, Seattle, ${world.train.length} training days), 5 classes (${world.classes.join(', ')}); held-out accuracy ${pct(world.accuracy)}; chance floor for agreement (always the victim's most frequent class) ${pct(world.majorityAgreement)} on ${world.test.length} held-out days`,
    `- Held-out days without precipitation: ${pct(dryShare)}; share of the documented precipitation range below 0.05 mm: ${pct(dryRange)} (uniform and lattice queries almost never show the victim a dry day, which bounds what their surrogates learn about natural data)`,
    `- probewatch: embedded default config, detectors ${detectors.join(', ')}; ${record.events} events from ${record.keys.size} keys (unprotected world)`,
    replayed.mismatched === 0
      ? `- Replay check: \`probewatch replay\` on the unprotected world's ${replayed.events} events (its own batches of 2,048, not the simulation's 5-second polls) ends all ${replayed.keys} keys on the same RiskScore (events seen, risk, level, every detector's score) as the simulation`
      : `- Replay check FAILED: \`probewatch replay\` on the unprotected world's events ends ${replayed.mismatched} keys on another RiskScore than the simulation: ${replayed.mismatches.join('; ')}`,
    variants.length
      ? `- Responses: the same seed and cast simulated again with the gateway SDK's \`Enforcer\` applying each key's level to its answers (in-memory token bucket in event time): ${variants.map((v) => `**${v.name}** — ${v.description}`).join('; ')}. Attackers resend throttled calls after Retry-After; benign clients do not retry. Events then carry what the gateway returned (status, empty or perturbed probabilities).`
      : '- Responses: not run (--no-responses).',
    `- ${errorsLine}`,
  ].join('\n');
  const tables = [
    '### Attacks',
    attackTable(attackRows, variantNames[0]),
    '',
    '### Benign populations',
    benignTable(benignRows, variantNames[0]),
    '',
    '### Which detector fired, per attack',
    `A detector "fires" on a key when its own score reaches the throttle threshold (${config.policy.thresholds.throttle}).`,
    '',
    detectorTable(attackRows, detectors),
    '',
    ...(variantNames.length
      ? [
          '### With responses enforced',
          'Each responses world replays the same seed and cast with the gateway enforcing the levels probewatch decides in that world. "calls (refused)": calls the campaign made, throttled ones included; "answers truncated / deceived": answered calls while its key was at truncate / at deceive; agreement: surrogate trained on what the attacker actually received (same surrogate seed as unprotected); cut: unprotected minus protected agreement.',
          '',
          responseTable(attackRows, variantNames),
          '',
          benignResponseTable(benignRows, variantNames),
          '',
        ]
      : []),
    ...(seedRuns.length > 1
      ? [
          '### Detection across seeds',
          `The same cast sizes and config on other seeds (another victim split and training, other actors' draws), unprotected world only: keys at ≥ truncate (median calls) per attack; keys at ≥ throttle and ≥ truncate and the highest risk per benign population.`,
          '',
          seedTable(seedRuns),
          '',
        ]
      : []),
    '### Against the bar of issue 4',
    ...[...barChecks(attackRows, benignRows, variantNames, world.majorityAgreement), ...(seedRuns.length > 1 ? [seedBarLine(seedRuns)] : [])].map((l) => `- ${l}`),
  ].join('\n');

  process.stdout.write(`\n${summary}\n\n${tables}\n`);

  if (write) {
    const svg = riskVsQueriesSvg(
      [
        ...populations.map((p) => ({ title: p, kind: 'benign' as const, traces: tracesOf(record, p) })),
        ...attackRows.map((a) => ({ title: a.population, kind: 'attack' as const, traces: tracesOf(record, a.population) })),
      ],
      { thresholds: { throttle: config.policy.thresholds.throttle, truncate: config.policy.thresholds.truncate }, caption: `probewatch risk against calls per key (seed ${seed}, ${size.name}); blue: benign, red: attack` },
    );
    writeFileSync(svgPath, svg);
    const resultsPath = join(repo, 'benchmarks', 'RESULTS.md');
    const body = [
      '## Detection quality (`npm run bench:quality`)',
      '',
      summary,
      '',
      'Median calls are the key\'s own calls when it first reached the level ("never" when it did not, counted as infinite for the median). ' +
        'Surrogate agreement is top-1 agreement with the victim on held-out natural days. ' +
        'The 100/min limiter and PRADA alone are measured on the same traffic in the same run; PRADA alone is probewatch with only the grid-sweep detector enabled.',
      '',
      tables,
      '',
      `![risk against queries per population](${relative(dirname(resultsPath), svgPath)})`,
    ].join('\n');
    replaceResultsBlock('quality', body, resultsPath);
    log(`wrote ${relative(repo, resultsPath)} and ${relative(repo, svgPath)}`);
  }
  if (args.json) {
    const keys = [...record.keys.values()].map((t) => ({
      key: t.key,
      population: t.population,
      calls: t.times.length,
      changes: Object.fromEntries(Object.entries(t.changes).map(([p, cs]) => [p, cs.map((c) => ({ events_seen: c.eventsSeen, level: c.level, risk: c.risk, detectors: c.detectors }))])),
      firstFire: t.firstFire,
    }));
    writeFileSync(args.json, JSON.stringify({ seed, size: size.name, attacks: attackRows, benign: benignRows, keys }, (_k, v) => (v === Infinity ? 'never' : v), 2));
  }
  log(`done in ${seconds.toFixed(0)} s`);
}

function tracesOf(record: Awaited<ReturnType<World['run']>>, population: string) {
  return [...record.keys.values()].filter((t) => t.population === population);
}

main().catch((err) => {
  process.stderr.write(`bench:quality failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
