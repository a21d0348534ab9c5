import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { replay } from '../../src/cli/replay.ts';
import type { Config } from '../../src/config/configSchema.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { type Level, type RiskScore, levelRank } from '../../src/contract.ts';
import { readKeyLabels } from '../../src/fusion/readKeyLabels.ts';
import { detectorThresholds } from '../../src/report/detectorThresholds.ts';
import { type TuneReport, tuneReport } from '../../src/report/tuneReport.ts';
import { type TuneRun, tuneRun } from '../../src/report/tuneRun.ts';
import { simulatedStream } from '../helpers/simulatedStream.ts';

const exec = promisify(execFile);
const bin = new URL('../../bin/probewatch', import.meta.url).pathname;
const sink = () => new Writable({ write: (_c, _e, done) => done() });

/** Each key's highest level, from replay's own output (its change lines). */
async function peakLevels(events: string, config: Readonly<Config>): Promise<Map<string, Level>> {
  let text = '';
  const out = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  await replay(events, config, { out, err: sink() });
  const peaks = new Map<string, Level>();
  for (const s of text.trim().split('\n').map((l) => JSON.parse(l) as RiskScore)) {
    const was = peaks.get(s.api_key) ?? 'allow';
    peaks.set(s.api_key, levelRank(s.level) > levelRank(was) ? s.level : was);
  }
  return peaks;
}

describe('probewatch tune', () => {
  const sim = simulatedStream(12);
  const live = parseConfig({});
  const candidateDoc = { policy: { thresholds: { observe: 0.2, throttle: 0.3, truncate: 0.5 } } };
  const candidate = parseConfig(candidateDoc);
  let liveRun: TuneRun;
  let candidateRun: TuneRun;
  let report: TuneReport;

  beforeAll(async () => {
    liveRun = await tuneRun(sim.events, live, 'live', 'live.yaml', sink());
    candidateRun = await tuneRun(sim.events, candidate, 'candidate', 'candidate.yaml', sink());
    report = tuneReport(liveRun, candidateRun, sim.events, { labels: { path: sim.labels, attack: readKeyLabels(sim.labels) } });
  }, 120_000);

  it("counts each key at the highest level replay takes it to, under each config, per label", async () => {
    const [livePeaks, candidatePeaks] = [await peakLevels(sim.events, live), await peakLevels(sim.events, candidate)];
    for (const [key, level] of livePeaks) expect(liveRun.keys.get(key)?.peakLevel, key).toBe(level);
    for (const [key, level] of candidatePeaks) expect(candidateRun.keys.get(key)?.peakLevel, key).toBe(level);
    expect(report.groups.map((g) => [g.group, g.keys])).toEqual([
      ['attack', 2],
      ['benign', 13],
    ]);
    const labels = readKeyLabels(sim.labels);
    for (const g of report.groups) {
      const keys = [...livePeaks.keys()].filter((k) => labels.get(k) === (g.group === 'attack'));
      for (const level of ['allow', 'observe', 'throttle', 'deceive'] as Level[]) {
        expect(g.live[level], `${g.group} ${level} live`).toBe(keys.filter((k) => livePeaks.get(k) === level).length);
        expect(g.candidate[level], `${g.group} ${level} candidate`).toBe(keys.filter((k) => candidatePeaks.get(k) === level).length);
      }
    }
    // The changed keys are exactly those whose highest level differs, each with the why.
    const differing = [...livePeaks.keys()].filter((k) => livePeaks.get(k) !== candidatePeaks.get(k)).sort();
    expect(differing.length).toBeGreaterThan(0);
    expect(report.changes.map((c) => c.key).sort()).toEqual(differing);
    for (const c of report.changes) {
      expect([c.live, c.candidate]).toEqual([livePeaks.get(c.key), candidatePeaks.get(c.key)]);
      expect(c.why[0]).toMatch(new RegExp(`^candidate: ${c.candidate} at call \\d+, risk [\\d.]+ ≥ ${c.candidate} threshold ${candidate.policy.thresholds[c.candidate as 'throttle']}`));
      expect(c.why.length).toBeGreaterThan(1);
    }
  });

  it('counts per population when one is given, keeping the labels beside them', () => {
    const populations = new Map([...readKeyLabels(sim.labels)].map(([k, attack]) => [k, attack ? k : k === 'batch-scorer' ? 'batch scorers' : 'people']));
    const byPopulation = tuneReport(liveRun, candidateRun, sim.events, {
      labels: { path: sim.labels, attack: readKeyLabels(sim.labels) },
      populations: { path: 'populations.csv', of: populations },
    });
    expect(byPopulation.groups.map((g) => [g.group, g.label, g.keys])).toEqual([
      ['attacker-grid', 'attack', 1],
      ['attacker-random', 'attack', 1],
      ['batch scorers', 'benign', 1],
      ['people', 'benign', 12],
    ]);
    // The same keys, counted per population instead of per label.
    for (const level of ['allow', 'observe', 'throttle', 'deceive'] as Level[]) {
      const sum = (label: string, config: 'live' | 'candidate') => byPopulation.groups.filter((g) => g.label === label).reduce((n, g) => n + g[config][level], 0);
      for (const g of report.groups) for (const config of ['live', 'candidate'] as const) expect(sum(g.group, config)).toBe(g[config][level]);
    }
    expect(byPopulation.changes.map((c) => c.key)).toEqual(report.changes.map((c) => c.key));
    expect(byPopulation.distributions['grid-sweep'].benign).toHaveLength(13);
  });

  it('reports nothing changed for the same config, and draws where thresholds fall on each detector', async () => {
    const same = tuneReport(liveRun, liveRun, sim.events);
    expect(same.changes).toEqual([]);
    expect(same.groups.map((g) => g.group)).toEqual(['unlabelled']);
    expect(same.groups[0].live).toEqual(same.groups[0].candidate);
    const weight = (live.detectors as Record<string, { weight: number }>)['grid-sweep'].weight;
    expect(liveRun.detectorThresholds['grid-sweep'].throttle).toBeCloseTo(0.5 / weight, 3);
    expect(candidateRun.detectorThresholds['grid-sweep'].throttle).toBeCloseTo(0.3 / weight, 3);
    // A detector weighted below a threshold cannot reach it alone…
    const light = parseConfig({ detectors: { entropy: { weight: 0.6 } }, fusion: { countOnce: { holdBelow: 'truncate' } } });
    expect(detectorThresholds(light, [{ name: 'entropy' }]).entropy).toMatchObject({ observe: 0.5, throttle: 0.8333, truncate: null, block: null });
    // …and one family without a signature is only observed under the default hold.
    const held = parseConfig({ detectors: { entropy: { weight: 0.6 } } });
    expect(detectorThresholds(held, [{ name: 'entropy' }]).entropy).toMatchObject({ observe: 0.5, throttle: null, truncate: null, block: null });
    // The attackers' peak grid-sweep scores are in the attack distribution, the people's in the benign one.
    expect(report.distributions['grid-sweep'].attack).toContain(1);
    expect(report.distributions['grid-sweep'].benign).toHaveLength(13);
  });

  it('prints tables, JSON and an HTML report from the command line', async () => {
    const candidateFile = join(sim.dir, 'candidate.yaml');
    writeFileSync(candidateFile, JSON.stringify(candidateDoc));
    const html = join(sim.dir, 'tune.html');
    const { stdout, stderr } = await exec(bin, ['tune', sim.events, '--candidate', candidateFile, '--labels', sim.labels, '--html', html]);
    expect(stdout).toMatch(new RegExp(`Keys that change level \\(${report.changes.length}\\)`));
    expect(stdout).toMatch(/^ {2}attack +attack +2 +live/m);
    expect(stderr).toMatch(/wrote .*tune\.html/);
    expect(readFileSync(html, 'utf8')).toMatch(/<svg[^>]+role="img"/);
    const bad = await exec(bin, ['tune', sim.events, '--candidate', join(sim.dir, 'missing.yaml')]).catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/cannot read config file .*missing\.yaml/);
  }, 90_000);
});
