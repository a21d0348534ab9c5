import type { Writable } from 'node:stream';
import { replay } from '../cli/replay.ts';
import type { Config } from '../config/configSchema.ts';
import { detectionConfigHash } from '../config/loadConfig.ts';
import { LEVELS, type Level, type RiskScore, levelRank } from '../contract.ts';
import { type LadderStep, detectorThresholds } from './detectorThresholds.ts';
import { everyCall, nullWritable } from './recordedTimeline.ts';

/** When a key first reached a level, and what was quoted then. */
export interface Reached {
  call: number;
  ts: number;
  risk: number;
  evidence: string[];
}

/** What one config did to one key over the recorded stream. */
export interface KeyOutcome {
  key: string;
  calls: number;
  /** The highest level the key reached, and its level at the end. */
  peakLevel: Level;
  finalLevel: Level;
  peakRisk: number;
  finalRisk: number;
  /** Each detector's highest score over the key's calls. */
  peaks: Record<string, number>;
  /** The first call at which the key stood at each level it reached (allow excluded). */
  reached: Partial<Record<Level, Reached>>;
}

/** One config replayed over the stream. */
export interface TuneRun {
  label: string;
  file: string;
  sha256: string;
  thresholds: Record<LadderStep, number>;
  /** Where each ladder threshold falls on each detector's own score axis (null: not reachable by it alone). */
  detectorThresholds: Record<string, Record<LadderStep, number | null>>;
  detectors: string[];
  keys: Map<string, KeyOutcome>;
}

/** Replays `path` under `config` (the same replay as `probewatch replay`) and keeps each key's outcome. */
export async function tuneRun(path: string, config: Readonly<Config>, label: string, file: string, err: Writable): Promise<TuneRun> {
  const keys = new Map<string, KeyOutcome>();
  let detectors: { name: string; kind?: 'rate' | 'behaviour' }[] = [];
  const see = (s: RiskScore) => {
    let k = keys.get(s.api_key);
    if (!k) keys.set(s.api_key, (k = { key: s.api_key, calls: 0, peakLevel: 'allow', finalLevel: 'allow', peakRisk: 0, finalRisk: 0, peaks: {}, reached: {} }));
    k.calls = s.events_seen;
    k.finalLevel = s.level;
    k.finalRisk = s.risk;
    if (s.risk > k.peakRisk) k.peakRisk = s.risk;
    if (levelRank(s.level) > levelRank(k.peakLevel)) k.peakLevel = s.level;
    if (s.level !== 'allow' && !k.reached[s.level]) k.reached[s.level] = { call: s.events_seen, ts: s.ts, risk: s.risk, evidence: s.evidence };
    for (const [name, v] of Object.entries(s.detectors)) if (v > (k.peaks[name] ?? 0)) k.peaks[name] = v;
  };
  await replay(path, everyCall(config), {
    out: nullWritable(),
    err,
    onBatch: (_events, output, pipeline) => {
      detectors = pipeline.detectors;
      for (const s of [...output.changes, ...output.updates].sort((a, b) => a.events_seen - b.events_seen)) see(s);
    },
  });
  return {
    label,
    file,
    sha256: detectionConfigHash(config),
    thresholds: { ...config.policy.thresholds },
    detectorThresholds: detectorThresholds(config, detectors),
    detectors: detectors.map((d) => d.name),
    keys,
  };
}

/** Keys per level (by the highest level each reached). */
export function levelCounts(outcomes: Iterable<KeyOutcome>): Record<Level, number> {
  const counts = Object.fromEntries(LEVELS.map((l) => [l, 0])) as Record<Level, number>;
  for (const o of outcomes) counts[o.peakLevel]++;
  return counts;
}
