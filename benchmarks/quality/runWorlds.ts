/**
 * Detection across a family of worlds (issue 10): real tables and
 * synthetic structures, victims of several kinds, each world's cast
 * against the default pipeline, unprotected, detection only.
 * `npm run bench:worlds -- --split dev|validation [--worlds a,b] [--quick] [--surrogates] [--responses]`.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import pino from 'pino';
import { createKernels } from '../../src/compute/createKernels.ts';
import { describeMachine } from '../utils/machine.ts';
import { replaceResultsBlock } from '../utils/results.ts';
import { defaultConfig, enabledDetectors } from './baselines/pipelines.ts';
import { neverCaughtAgreementLine, responsesBarLine, responsesMatrix, surrogateMatrix } from './report/surrogateTables.ts';
import { familyBarLine, familyMatrix, worldBlock, worldSummaryTable, worstWorldLine } from './report/worldsTables.ts';
import { FAMILY, TINY } from './Scenario.ts';
import { runFamily } from './worlds/runFamily.ts';
import { familyWorlds, SPLIT_SEEDS, type Split } from './worlds/worldFamily.ts';

const { values: args } = parseArgs({
  options: {
    split: { type: 'string', default: 'dev' },
    /** Only these templates (comma-separated names). */
    worlds: { type: 'string' },
    /** Other dev seeds (comma-separated); refused with --split validation. */
    seeds: { type: 'string' },
    /** The CI-sized cast and small victims. */
    quick: { type: 'boolean', default: false },
    /** Also train every attack campaign's surrogate on its answers and measure its agreement with the victim (as bench:quality does). */
    surrogates: { type: 'boolean', default: false },
    /** Also simulate every world under the default responses and measure what each campaign's copy keeps (implies --surrogates). */
    responses: { type: 'boolean', default: false },
    /** Write the RESULTS.md section (default: a whole split at full size). */
    write: { type: 'boolean' },
    dry: { type: 'boolean', default: false },
    /** Also write every world's detection as JSON. */
    json: { type: 'string' },
    /** Also write each world's events and key populations into this directory (for replay under other configs). */
    events: { type: 'string' },
    'poll-ms': { type: 'string', default: '5000' },
  },
});

const log = (msg: string) => process.stderr.write(`[bench:worlds] ${msg}\n`);

/** The tree the run measured: commit, and whether files differed from it. */
function treeState(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim();
    return dirty ? `${commit} with uncommitted changes` : commit;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const tree = treeState();
  const split = args.split as Split;
  if (!(split in SPLIT_SEEDS)) throw new Error(`--split must be dev or validation, got ${args.split}`);
  const seeds = args.seeds?.split(',').filter(Boolean).map(Number);
  if (seeds && split === 'validation') throw new Error('--seeds is for dev only: validation seeds are fixed in worlds/worldFamily.ts');
  if (seeds?.some((s) => !Number.isInteger(s) || SPLIT_SEEDS.validation.includes(s))) throw new Error(`--seeds must be integers that are not validation seeds (${SPLIT_SEEDS.validation.join(', ')}), got ${args.seeds}`);
  const only = args.worlds?.split(',').filter(Boolean);
  const specs = familyWorlds(split, only, seeds ?? SPLIT_SEEDS[split]);
  const size = args.quick ? TINY : FAMILY;
  const pollMs = Number(args['poll-ms']);
  const write = !args.dry && (args.write ?? (!args.quick && !only && !seeds));

  await tf.setBackend('cpu');
  await tf.ready();
  const config = defaultConfig();
  // The kernels `run` and `replay` use (`createKernels`): plain JS wherever TensorFlow.js rounds differently, so the
  // simulation's scores are the ones `replay` gives on the same events (the replay check compares them).
  const compute = await createKernels(config.compute);
  const detectorErrors = new Map<string, number>();
  const logger = pino({ level: 'error' }, {
    write(line: string) {
      const name = (JSON.parse(line) as { detector?: string }).detector ?? 'unknown';
      detectorErrors.set(name, (detectorErrors.get(name) ?? 0) + 1);
    },
  });
  log(`${split} split: ${specs.length} worlds (${size.name} size), detectors ${enabledDetectors(config).join(', ')}, compute ${compute.backend}`);

  if (args.responses) args.surrogates = true;
  const worlds = await runFamily(specs, size, config, compute, {
    pollMs,
    victimPassesScale: args.quick ? 0.25 : 1,
    logger,
    log,
    ...(args.events ? { eventsDir: args.events } : {}),
    ...(args.surrogates ? { surrogate: size.surrogate } : {}),
    ...(args.responses ? { responses: true } : {}),
  });
  for (const w of worlds) process.stdout.write(`\n${worldBlock(w)}\n`);
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = (({ user, system }) => (user + system) / 1e6)(process.cpuUsage());

  const command = `npm run bench:worlds -- --split ${split}${only ? ` --worlds ${only.join(',')}` : ''}${seeds ? ` --seeds ${seeds.join(',')}` : ''}${args.quick ? ' --quick' : ''}${args.responses ? ' --responses' : args.surrogates ? ' --surrogates' : ''}`;
  const worst = worstWorldLine(worlds);
  const bar = familyBarLine(worlds);
  const summary = [
    `- Command: \`${command}\` (${size.name}: ${size.days} simulated day${size.days > 1 ? 's' : ''} per world, ${size.budget} attack queries per campaign, poll ${pollMs / 1000} s; ${args.responses ? 'each world simulated unprotected and again under the SDK\'s default responses' : 'unprotected worlds only'}, ${args.surrogates ? `surrogates MLP ${size.surrogate.hidden.join('-')} × ${size.surrogate.passes} examples seen, seed world seed + 17, trained on each campaign's answers in ${worlds.reduce((s, w) => s + (w.surrogates?.seconds ?? 0), 0).toFixed(0)} s` : 'no surrogates measured'})`,
    `- Date: ${new Date().toISOString()}; wall time ${seconds.toFixed(0)} s for ${worlds.length} worlds, CPU ${cpuSeconds.toFixed(0)} s (the wall time an idle machine would take, about)`,
    `- Machine: ${describeMachine()}; victims on tfjs cpu, probewatch kernels as replay picks them (TensorFlow.js backend ${compute.backend} only where it rounds as plain JS does); tree ${tree}`,
    `- Split ${split}: seeds ${(seeds ?? SPLIT_SEEDS[split]).join(', ')} (dev ${SPLIT_SEEDS.dev.join(', ')} for tuning; validation ${SPLIT_SEEDS.validation.join(', ')} never tuned on)`,
    `- probewatch: embedded default config; ${detectorErrors.size ? `detector errors (caught, scored 0): ${[...detectorErrors].map(([d, n]) => `${d} ×${n}`).join(', ')}` : 'no detector errors'}`,
    `- Replay check: every world's events through \`probewatch replay\`'s code end every key on the same RiskScore as the simulation: ${worlds.every((w) => w.replay.mismatched === 0) ? 'yes, in every world' : `NO in ${worlds.filter((w) => w.replay.mismatched > 0).map((w) => `${w.name}#${w.seed}`).join(', ')}`}`,
  ].join('\n');
  const tables = [
    '### Worlds',
    worldSummaryTable(worlds),
    '',
    '### Per population and world',
    'Benign cells: keys at ≥ throttle / at ≥ truncate of the population\'s keys. Attack cells: median over the campaign\'s keys of its calls when first at ≥ truncate (Papernot counted from its first augmented query), "never" within the budget. Worst world: most honest keys at ≥ truncate (benign), most calls (attacks).',
    '',
    familyMatrix(worlds),
    '',
    `- ${worst}`,
    `- ${bar}`,
    ...(args.surrogates
      ? [
          '',
          '### Stolen copies per world',
          'Each attack campaign\'s surrogate, trained on the model\'s answers it received in the unprotected world (bench:quality\'s code and seed rule), scored by top-1 agreement with the victim on the world\'s held-out rows; beside it, the calls-to-truncate cell above. Bold: never at ≥ truncate. Chance floor: always answering the victim\'s most frequent held-out class.',
          '',
          surrogateMatrix(worlds),
          '',
          `- ${neverCaughtAgreementLine(worlds)}`,
        ]
      : []),
    ...(args.responses
      ? [
          '',
          '### Stolen copies under the default responses',
          'Each world simulated again with the gateway enforcing the levels probewatch decides (the SDK\'s defaults: throttle 10/min, truncate to the top-1 label, deceive with a keyed wrong class), the same seed and cast. Cells: the campaign\'s surrogate agreement unprotected → trained on what it received under responses (the cut in points). Bold: a campaign caught in the unprotected world whose copy loses < 40 points and stays above the chance floor.',
          '',
          responsesMatrix(worlds),
          '',
          `- ${responsesBarLine(worlds)}`,
        ]
      : []),
  ].join('\n');
  process.stdout.write(`\n${summary}\n\n${tables}\n`);
  if (process.exitCode === undefined && worlds.some((w) => w.replay.mismatched > 0)) process.exitCode = 1;

  if (write) {
    const body = [
      '## Detection across a family of worlds (`npm run bench:worlds`)',
      '',
      summary,
      '',
      'Worlds: ' + worlds.map((w) => `**${w.name}#${w.seed}** — ${w.description}; victim ${w.victim}`).join('; ') + '.',
      '',
      tables,
    ].join('\n');
    replaceResultsBlock(`worlds-${split}`, body);
    log(`wrote the worlds-${split} section of benchmarks/RESULTS.md`);
  }
  if (args.json) writeFileSync(args.json, JSON.stringify(worlds, (_k, v) => (v === Infinity ? 'never' : v), 2));
  log(`done in ${seconds.toFixed(0)} s`);
}

main().catch((err) => {
  process.stderr.write(`bench:worlds failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
