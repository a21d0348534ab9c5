import { type Level, levelRank } from '../contract.ts';
import { type KeyOutcome, type TuneRun, levelCounts } from './tuneRun.ts';

/** A key's group in the report: its label, or `unlabelled`. */
export type Group = 'attack' | 'benign' | 'unlabelled';

/** A key that reaches a different level under the candidate, and why. */
export interface LevelChange {
  key: string;
  group: Group;
  live: Level;
  candidate: Level;
  calls: number;
  /** Sentences: where the higher config took the key, with the risk and thresholds under both, then the evidence quoted there. */
  why: string[];
}

export interface TuneReport {
  events: string;
  labels?: string;
  live: TuneRun;
  candidate: TuneRun;
  /** Per group: keys at each level (the highest each reached) under each config. */
  groups: { group: Group; keys: number; live: Record<Level, number>; candidate: Record<Level, number> }[];
  changes: LevelChange[];
  /** Per detector and group: each key's peak score under the live config (for the distributions). */
  distributions: Record<string, Partial<Record<Group, number[]>>>;
  /** The same under the candidate (differs where the candidate changes a detector's settings). */
  candidateDistributions: Record<string, Partial<Record<Group, number[]>>>;
}

/** Why `key` stands higher under `high` than under `low`. */
function explainChange(high: TuneRun, low: TuneRun, h: KeyOutcome, l: KeyOutcome | undefined): string[] {
  const at = h.reached[h.peakLevel]!;
  const level = h.peakLevel as Exclude<Level, 'allow'>;
  const lowPeak = l?.peakRisk ?? 0;
  const lines = [
    `${high.label}: ${level} at call ${at.call}, risk ${at.risk.toFixed(2)} ≥ ${level} threshold ${high.thresholds[level]}; ` +
      `${low.label}: ${level} threshold ${low.thresholds[level]}, peak risk ${lowPeak.toFixed(2)}${l ? `, peak level ${l.peakLevel}` : ''}`,
  ];
  // Scores that moved between the configs (a detector's settings changed) are part of the why.
  const moved = Object.keys(h.peaks)
    .filter((d) => Math.abs((h.peaks[d] ?? 0) - (l?.peaks[d] ?? 0)) >= 0.05)
    .map((d) => `${d} peak ${(l?.peaks[d] ?? 0).toFixed(2)} (${low.label}) vs ${(h.peaks[d] ?? 0).toFixed(2)} (${high.label})`);
  if (moved.length) lines.push(`detector scores differ: ${moved.join('; ')}`);
  return [...lines, ...at.evidence];
}

/** Compares the two replays, per label when a labels map is given. */
export function tuneReport(live: TuneRun, candidate: TuneRun, events: string, labels?: { path: string; attack: ReadonlyMap<string, boolean> }): TuneReport {
  const groupOf = (key: string): Group => {
    const a = labels?.attack.get(key);
    return a === undefined ? 'unlabelled' : a ? 'attack' : 'benign';
  };
  const keys = [...new Set([...live.keys.keys(), ...candidate.keys.keys()])].sort();
  const byGroup = new Map<Group, string[]>();
  for (const k of keys) {
    const g = groupOf(k);
    if (!byGroup.has(g)) byGroup.set(g, []);
    byGroup.get(g)!.push(k);
  }
  const order: Group[] = ['attack', 'benign', 'unlabelled'];
  const groups = order
    .filter((g) => byGroup.has(g))
    .map((group) => {
      const ks = byGroup.get(group)!;
      const pick = (run: TuneRun) => ks.map((k) => run.keys.get(k)).filter((o): o is KeyOutcome => o !== undefined);
      return { group, keys: ks.length, live: levelCounts(pick(live)), candidate: levelCounts(pick(candidate)) };
    });
  const changes: LevelChange[] = [];
  for (const k of keys) {
    const a = live.keys.get(k);
    const b = candidate.keys.get(k);
    const la = a?.peakLevel ?? 'allow';
    const lb = b?.peakLevel ?? 'allow';
    if (la === lb) continue;
    const why = levelRank(lb) > levelRank(la) ? explainChange(candidate, live, b!, a) : explainChange(live, candidate, a!, b);
    changes.push({ key: k, group: groupOf(k), live: la, candidate: lb, calls: (b ?? a)!.calls, why });
  }
  changes.sort((x, y) => order.indexOf(x.group) - order.indexOf(y.group) || x.key.localeCompare(y.key));
  const distributionsOf = (run: TuneRun) => {
    const out: TuneReport['distributions'] = {};
    for (const d of run.detectors) {
      out[d] = {};
      for (const [g, ks] of byGroup) out[d][g] = ks.map((k) => run.keys.get(k)?.peaks[d] ?? 0);
    }
    return out;
  };
  return { events, labels: labels?.path, live, candidate, groups, changes, distributions: distributionsOf(live), candidateDistributions: distributionsOf(candidate) };
}
