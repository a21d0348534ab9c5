import { writeFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Config } from '../config/configSchema.ts';
import { ProbewatchError } from '../errors.ts';
import { readKeyLabels } from '../fusion/readKeyLabels.ts';
import { readKeyPopulations } from '../report/readKeyPopulations.ts';
import { tuneHtml } from '../report/tuneHtml.ts';
import { type TuneReport, tuneReport } from '../report/tuneReport.ts';
import { tuneRun } from '../report/tuneRun.ts';
import { tuneText } from '../report/tuneText.ts';

export interface TuneOptions {
  /** The live config and where it came from (`embedded defaults` without a file). */
  live: Readonly<Config>;
  liveFile: string;
  candidate: Readonly<Config>;
  candidateFile: string;
  /** key → label file, as for `train` (CSV api_key,label or JSON; attack/benign or 1/0). */
  labels?: string;
  /** key → population file (CSV api_key,population or JSON): levels are counted per population. */
  populations?: string;
  html?: string;
  json?: boolean;
  out: Writable;
  err: Writable;
}

/** The report as plain JSON (maps become objects). */
function reportJson(r: TuneReport): string {
  const run = (x: TuneReport['live']) => ({ ...x, keys: Object.fromEntries(x.keys) });
  return JSON.stringify({ ...r, live: run(r.live), candidate: run(r.candidate) }, null, 2);
}

/**
 * `probewatch tune EVENTS --candidate FILE`: "what would this config have
 * done". Replays the recorded stream under the live config and under the
 * candidate, and reports per population or label (attack, benign, unlabelled) the keys at
 * each level under each, the keys that change level with the evidence why,
 * and each detector's score distribution with the thresholds drawn in.
 */
export async function tune(events: string, o: TuneOptions): Promise<number> {
  if (events === '-') throw new ProbewatchError('PW_USAGE', 'tune replays the stream twice: give a file, not - (stdin)');
  const labels = o.labels ? { path: o.labels, attack: readKeyLabels(o.labels) } : undefined;
  const populations = o.populations ? { path: o.populations, of: readKeyPopulations(o.populations) } : undefined;
  const live = await tuneRun(events, o.live, 'live', o.liveFile, o.err);
  const candidate = await tuneRun(events, o.candidate, 'candidate', o.candidateFile, o.err);
  if (labels) {
    const missing = [...labels.attack.keys()].filter((k) => !live.keys.has(k));
    if (missing.length) o.err.write(`${o.labels}: ${missing.length} labelled keys have no events in ${events} (e.g. ${missing.slice(0, 3).join(', ')})\n`);
  }
  const report = tuneReport(live, candidate, events, { labels, populations });
  if (o.html) {
    try {
      writeFileSync(o.html, tuneHtml(report));
    } catch (cause) {
      throw new ProbewatchError('PW_USAGE', `--html: cannot write ${o.html}: ${(cause as Error).message}`, { cause });
    }
    o.err.write(`wrote ${o.html}\n`);
  }
  o.out.write(o.json ? reportJson(report) + '\n' : tuneText(report));
  return 0;
}
