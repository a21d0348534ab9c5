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
import { createCompute } from '../../src/compute/createCompute.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import { defaultConfig, enabledDetectors, PRADA_DETECTOR, pradaOnlyConfig } from './baselines/pipelines.ts';
import { type AttackRow, type BenignRow, measureAttack, measureBenign } from './Measure.ts';
import { describeMachine } from '../utils/machine.ts';
import { replaceResultsBlock } from '../utils/results.ts';
import { riskVsQueriesSvg } from './report/riskPlot.ts';
import { attackTable, barChecks, benignTable, detectorTable, pct } from './report/tables.ts';
import { Rng } from './Rng.ts';
import { buildCast, FULL, QUICK } from './Scenario.ts';
import { buildVictimWorld } from './Victim.ts';
import { loadWeatherData } from './weatherData.ts';
import { noEnforcement } from './world/Enforcement.ts';
import { Gateway } from './world/Gateway.ts';
import { DAY, SIM_EPOCH } from './world/Schedule.ts';
import { type PipelineUnderTest, World } from './world/World.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    quick: { type: 'boolean', default: false },
    /** Write RESULTS.md and the SVG (default for full runs, not for --quick). */
    write: { type: 'boolean' },
    dry: { type: 'boolean', default: false },
    /** Also write every event as NDJSON, for `probewatch replay FILE`. */
    events: { type: 'string' },
    /** Also write each key's label (CSV `api_key,label`, attack or benign), for `probewatch train`. */
    labels: { type: 'string' },
    /** Also write the per-row details as JSON. */
    json: { type: 'string' },
    'poll-ms': { type: 'string', default: '5000' },
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
  const cast = buildCast(world, size, rng.fork('cast'));

  const config = defaultConfig();
  const compute = await createCompute();
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

  const eventLines: string[] = [];
  const gateway = new Gateway(world.standardizer, rng.fork('gateway'));
  let lastDay = -1;
  const simulation = new World({
    victim: world.victim,
    gateway,
    enforcement: noEnforcement,
    pipelines,
    pollMs,
    fireScore: config.policy.thresholds.throttle,
    onEvent: (e) => {
      if (args.events) eventLines.push(formatEventLine(e));
      const day = Math.floor((e.ts - SIM_EPOCH) / DAY);
      if (day > lastDay) {
        lastDay = day;
        log(`simulating day ${day + 1}/${size.days} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
      }
    },
  });
  const simStarted = performance.now();
  const record = await simulation.run([...cast.benign, ...cast.attacks]);
  const simSeconds = (performance.now() - simStarted) / 1000;
  log(`simulated ${record.events} events in ${record.polls} polls, ${simSeconds.toFixed(0)} s; measuring surrogates`);
  if (args.events) writeFileSync(args.events, eventLines.join('\n') + '\n');
  if (args.labels) writeFileSync(args.labels, ['api_key,label', ...record.actors.flatMap((r) => r.actor.keys.map((k) => `${k.apiKey},${r.actor.kind}`))].join('\n') + '\n');

  const weights = Object.fromEntries(detectors.map((d) => [d, (config.detectors as Record<string, { weight: number }>)[d].weight]));
  const ctx = {
    world,
    surrogate: size.surrogate,
    primary: 'probewatch',
    baseline: prada ? 'prada' : undefined,
    enforcementActive: noEnforcement.active,
    weights,
    detectors,
    seed,
  };
  const attackRows: AttackRow[] = record.actors.filter((r) => r.actor.kind === 'attack').map((r) => measureAttack(record, r, ctx));
  const populations = [...new Set(cast.benign.map((a) => a.population))];
  const benignRows: BenignRow[] = populations.map((p) => measureBenign(record, p, ctx));
  const seconds = (performance.now() - started) / 1000;

  const command = `npm run bench:quality --${args.quick ? ' --quick' : ''} --seed ${seed}`;
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
    `- Machine: ${describeMachine()}; models on tfjs cpu, probewatch Compute on ${compute.backend}`,
    `- Victim: TensorFlow.js MLP ${size.victimHidden.join('-')} over ${'precipitation, temp_max, temp_min, wind, day_of_year'} (vega-datasets weather.csv, Seattle, ${world.train.length} training days), 5 classes (${world.classes.join(', ')}); held-out accuracy ${pct(world.accuracy)}; chance floor for agreement (always the victim's most frequent class) ${pct(world.majorityAgreement)} on ${world.test.length} held-out days`,
    `- Held-out days without precipitation: ${pct(dryShare)}; share of the documented precipitation range below 0.05 mm: ${pct(dryRange)} (uniform and lattice queries almost never show the victim a dry day, which bounds what their surrogates learn about natural data)`,
    `- probewatch: embedded default config, detectors ${detectors.join(', ')}; ${record.events} events from ${record.keys.size} keys; enforcement: ${noEnforcement.name}`,
    `- ${errorsLine}`,
  ].join('\n');
  const tables = [
    '### Attacks',
    attackTable(attackRows),
    '',
    '### Benign populations',
    benignTable(benignRows),
    '',
    '### Which detector fired, per attack',
    `A detector "fires" on a key when its own score reaches the throttle threshold (${config.policy.thresholds.throttle}).`,
    '',
    detectorTable(attackRows, detectors),
    '',
    '### Against the bar of issue 4',
    ...barChecks(attackRows, benignRows).map((l) => `- ${l}`),
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
