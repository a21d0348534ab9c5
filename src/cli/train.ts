import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import type { Config } from '../config/configSchema.ts';
import { applyEnv, loadConfig, parseConfig } from '../config/loadConfig.ts';
import { ProbewatchError } from '../errors.ts';
import { createFusion, type FusedDetector } from '../fusion/createFusion.ts';
import { detectorTraits } from '../fusion/detectorKinds.ts';
import { sigmoid } from '../fusion/logistic.ts';
import { CHECKED_LEVELS, heldOutCheck, type HeldOutResult } from '../fusion/heldOutCheck.ts';
import { readKeyLabels } from '../fusion/readKeyLabels.ts';
import type { ScoredKey } from '../fusion/ScoredKey.ts';
import { splitByKey } from '../fusion/splitByKey.ts';
import { trainLogistic } from '../fusion/trainLogistic.ts';
import { buildTrainingSet } from '../fusion/trainingSet.ts';
import { type FusionWeights, writeFusionWeights } from '../fusion/writeFusionWeights.ts';
import { replay } from './replay.ts';

export interface TrainOptions {
  /** Config to start from; updated in place unless `out` is given. */
  config?: string;
  out?: string;
  /** Share of keys held out for the check, in [0, 1). */
  holdout: number;
  /** Seed of the key split. */
  seed: number;
  /** L2 penalty on the fitted coefficients (see trainLogistic). */
  l2: number;
  /** Write the weights even when they do worse on the held-out keys than the live config. */
  force?: boolean;
  env: Record<string, string | undefined>;
  stdout: Writable;
  stderr: Writable;
}

export interface TrainResult {
  /** Where the config was written. */
  written: string;
  fit: FusionWeights;
  /** The held-out check with the fitted weights and with the starting config (absent with no held-out keys). */
  trained?: HeldOutResult;
  current?: HeldOutResult;
}

/** Every event's detector scores, per key, from a replay of the recorded stream. */
interface Collected {
  detectors: string[];
  keys: Map<string, { rows: number[][]; ts: number[]; tenant: string | null }>;
  events: number;
}

function usage(message: string): ProbewatchError {
  return new ProbewatchError('PW_USAGE', message);
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

/**
 * `probewatch train EVENTS LABELS`: replays the recorded events through the
 * same detectors as `replay` (the configured ones), collects each event's
 * score vector per key, splits the labelled keys by key into a training and
 * a held-out set, fits a logistic fusion on the training keys with
 * TensorFlow.js, prints the held-out check for the fitted weights beside the
 * starting config, and writes `fusion.method: logistic`, `fusion.bias` and
 * `fusion.weights` into the config. The written weights are those fitted on
 * the training keys only, so the printed check describes exactly them.
 * Deterministic from the seed.
 */
export async function train(eventsPath: string, labelsPath: string, options: TrainOptions): Promise<TrainResult> {
  const { holdout, seed, l2, stdout, stderr } = options;
  if (!(holdout >= 0 && holdout < 1)) throw usage(`--holdout must be a share in [0, 1), got ${holdout}`);
  if (!Number.isSafeInteger(seed)) throw usage(`--seed must be an integer, got ${seed}`);
  if (!(l2 >= 0 && l2 < Infinity)) throw usage(`--l2 must be a number >= 0, got ${l2}`);
  const target = options.out ?? options.config;
  if (!target) throw usage('nowhere to write the weights: give -c FILE (updated in place) or --out FILE');
  const config = loadConfig(options.config, options.env);
  const labels = readKeyLabels(labelsPath);

  const collected = await collectScores(eventsPath, config, stderr);
  const keys = labelledKeys(collected, labels, eventsPath, labelsPath, stderr);
  const byClass = (ks: readonly ScoredKey[]) => `${ks.filter((k) => k.attack).length} attack, ${ks.filter((k) => !k.attack).length} benign`;
  const d = collected.detectors.length;
  const traits = detectorTraits();
  const fused: FusedDetector[] = collected.detectors.map((name) => ({ name, ...traits.get(name) }));
  const features = collected.detectors.flatMap((name, i) => (fused[i].kind === 'rate' ? [] : [i]));
  stdout.write(`${collected.events} events, ${keys.size} labelled keys (${byClass([...keys.values()])}); detectors ${collected.detectors.join(', ')}\n`);

  const split = splitByKey(new Map([...keys].map(([k, s]) => [k, s.attack])), holdout, seed);
  const trainKeys = split.train.map((k) => keys.get(k)!);
  const heldOut = split.heldOut.map((k) => keys.get(k)!);
  if (!trainKeys.some((k) => k.attack) || !trainKeys.some((k) => !k.attack)) throw usage(`need attack and benign keys to fit on; the training keys are ${byClass(trainKeys)}`);
  const set = buildTrainingSet(trainKeys, d, features);
  stdout.write(
    `split by key (seed ${seed}, holdout ${holdout}): fitting on ${trainKeys.length} keys (${byClass(trainKeys)}; ` +
      `${set.rows} of their ${trainKeys.reduce((n, k) => n + k.events, 0)} score vectors can hold a key's highest risk), checking on ${heldOut.length} keys (${byClass(heldOut)})\n`,
  );

  const raw = await trainLogistic(set, { l2 });
  const fit: FusionWeights = { bias: round4(raw.bias), weights: Object.fromEntries(features.map((f, j) => [collected.detectors[f], round4(raw.weights[j])])) };
  stdout.write(
    `fitted logistic fusion (TensorFlow.js cpu, ${raw.steps} steps, weighted log-loss ${raw.loss.toFixed(4)}): bias ${fit.bias} (a key with no evidence: risk ${sigmoid(fit.bias).toFixed(3)}); ` +
      `${Object.entries(fit.weights).map(([n, w]) => `${n} ${w}`).join(', ')}\n`,
  );

  const text = writeFusionWeights(options.config ? readFileSync(options.config, 'utf8') : '', fit, options.config ?? target);
  // Validated as the loader would read it back, before anything is written.
  const trainedConfig = parseConfig(applyEnv((parseYaml(text) ?? {}) as Record<string, unknown>, options.env), `${target} with the fitted weights`);
  const result: TrainResult = { written: target, fit };
  if (heldOut.length) {
    result.trained = heldOutCheck(heldOut, d, createFusion(trainedConfig, fused), trainedConfig.policy);
    result.current = heldOutCheck(heldOut, d, createFusion(config, fused), config.policy);
    stdout.write(formatCheck(result.trained, result.current, config));
    const worse = worseThanLive(result.trained, result.current);
    if (worse.length && !options.force) {
      throw new ProbewatchError(
        'PW_USAGE',
        `refusing to write ${target}: on the held-out keys the fitted weights do worse than the live config (${worse.join('; ')}); nothing was written. Pass --force to write them anyway`,
      );
    }
    if (worse.length) stderr.write(`writing despite doing worse on the held-out keys (--force): ${worse.join('; ')}\n`);
  } else {
    stdout.write('no held-out keys (--holdout 0): no check\n');
  }
  await writeText(target, text);
  stdout.write(`wrote fusion.method: logistic, fusion.bias and fusion.weights to ${target}\n`);
  return result;
}

/**
 * Replays with a RiskScore after every event, keeping each event's detector
 * scores as RiskScores carry them (rounded to 4 decimals), every detector's
 * including shadowed ones: the check fuses them all, as the shadow view does.
 */
async function collectScores(path: string, config: Readonly<Config>, stderr: Writable): Promise<Collected> {
  const collected: Collected = { detectors: [], keys: new Map(), events: 0 };
  const everyEvent = { ...config, publish: { ...config.publish, riskEveryEvents: 1 } };
  const discard = new Writable({ write: (_chunk, _enc, done) => done() });
  const summary = await replay(path, everyEvent, {
    out: discard,
    err: stderr,
    onBatch(events, output) {
      for (const e of events) {
        let k = collected.keys.get(e.api_key);
        if (!k) collected.keys.set(e.api_key, (k = { rows: [], ts: [], tenant: null }));
        if (e.tenant !== null) k.tenant = e.tenant;
      }
      for (const score of [...output.changes, ...output.updates]) {
        if (!collected.detectors.length) collected.detectors = Object.keys(score.detectors);
        const k = collected.keys.get(score.api_key)!;
        k.rows[score.events_seen - 1] = collected.detectors.map((n) => score.detectors[n] ?? 0);
        k.ts[score.events_seen - 1] = score.ts;
      }
    },
  });
  collected.events = summary.events;
  for (const [key, k] of collected.keys) {
    // With riskEveryEvents 1 the pipeline reports every event it processed; a gap would mean the scores and events are misaligned.
    for (let i = 0; i < k.rows.length; i++) if (!k.rows[i]) throw new Error(`internal: no scores recorded for event ${i + 1} of key ${key}`);
  }
  if (!collected.detectors.length) throw usage(`${path}: no events to train on`);
  return collected;
}

/** The keys that have both events and a label; reports the others on stderr. */
function labelledKeys(collected: Collected, labels: ReadonlyMap<string, boolean>, eventsPath: string, labelsPath: string, stderr: Writable): Map<string, ScoredKey> {
  const keys = new Map<string, ScoredKey>();
  const unlabelled: string[] = [];
  for (const [key, k] of [...collected.keys].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const attack = labels.get(key);
    if (attack === undefined) {
      unlabelled.push(key);
      continue;
    }
    const events = k.rows.length;
    keys.set(key, { key, attack, tenant: k.tenant, events, scores: Float64Array.from(k.rows.flat()), ts: Float64Array.from(k.ts) });
  }
  const list = (ks: string[]) => ks.slice(0, 10).join(', ') + (ks.length > 10 ? `, … (${ks.length - 10} more)` : '');
  if (unlabelled.length) stderr.write(`${unlabelled.length} keys in ${eventsPath} have no label in ${labelsPath}; skipped: ${list(unlabelled)}\n`);
  const unseen = [...labels.keys()].filter((k) => !collected.keys.has(k) || collected.keys.get(k)!.rows.length === 0);
  if (unseen.length) stderr.write(`${unseen.length} labelled keys have no events in ${eventsPath}: ${list(unseen)}\n`);
  return keys;
}

/**
 * How the fitted weights do worse than the live config on the held-out keys:
 * more benign keys or fewer attack keys at truncate, or (with neither
 * better) a lower AUC. Empty when they are at least as good.
 */
export function worseThanLive(trained: HeldOutResult, live: HeldOutResult): string[] {
  const t = CHECKED_LEVELS.indexOf('truncate');
  const out: string[] = [];
  const benign = [trained.reach[t].benign, live.reach[t].benign];
  const attack = [trained.reach[t].attack, live.reach[t].attack];
  if (benign[0] > benign[1]) out.push(`benign keys at truncate ${benign[0]} > ${benign[1]}`);
  if (attack[0] < attack[1]) out.push(`attack keys at truncate ${attack[0]} < ${attack[1]}`);
  const better = benign[0] < benign[1] || attack[0] > attack[1];
  if (!better && trained.auc < live.auc - AUC_TOLERANCE) out.push(`AUC ${trained.auc.toFixed(3)} < ${live.auc.toFixed(3)}`);
  return out;
}

/** AUC differences below this are noise on a held-out set of tens of keys. */
const AUC_TOLERANCE = 0.005;

function formatCheck(trained: HeldOutResult, current: HeldOutResult, config: Readonly<Config>): string {
  const share = (n: number, of: number) => `${n}/${of} (${of ? Math.round((100 * n) / of) : 0}%)`;
  const events = (x: number) => (Number.isNaN(x) ? 'n/a' : x === Infinity ? 'never' : String(x));
  const thresholds = config.policy.thresholds;
  const rows: [string, string, string][] = [
    ['', 'trained (logistic)', `current (${config.fusion.method})`],
    ['AUC of each key’s highest risk', trained.auc.toFixed(3), current.auc.toFixed(3)],
  ];
  CHECKED_LEVELS.forEach((level, i) => {
    rows.push([`attack keys reaching ${level} (${thresholds[level]})`, share(trained.reach[i].attack, trained.attackKeys), share(current.reach[i].attack, current.attackKeys)]);
    rows.push([`benign keys reaching ${level}`, share(trained.reach[i].benign, trained.benignKeys), share(current.reach[i].benign, current.benignKeys)]);
  });
  rows.push(['median events to truncate, attack keys', events(trained.medianEventsToTruncate), events(current.medianEventsToTruncate)]);
  const width = rows.map((r) => r.map((c) => c.length)).reduce((a, b) => a.map((w, i) => Math.max(w, b[i])));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('   ');
  return `\nheld-out check (${trained.attackKeys} attack, ${trained.benignKeys} benign keys; a key reaches a level when the ladder puts it there at some event)\n${rows.map(line).join('\n')}\n\n`;
}

async function writeText(path: string, text: string): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  try {
    await writeFile(path, text);
  } catch (cause) {
    throw new ProbewatchError('PW_USAGE', `cannot write ${path}: ${(cause as Error).message}`, { cause });
  }
}
