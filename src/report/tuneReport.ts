import { type Level, levelRank } from '../contract.ts';
import { type KeyOutcome, type TuneRun, levelCounts } from './tuneRun.ts';

/** A key's label in the report: attack, benign, or `unlabelled`. */
export type Group = 'attack' | 'benign' | 'unlabelled';

/** Labels and (optionally) populations of the keys, from `--labels` and `--populations`. */
export interface KeyGroups {
  labels?: { path: string; attack: ReadonlyMap<string, boolean> };
  populations?: { path: string; of: ReadonlyMap<string, string> };
}

/** A key that reaches a different level under the candidate, and why. */
export interface LevelChange {
  key: string;
  /** The key's population, or its label when no population is given. */
  group: string;
  label: Group;
  live: Level;
  candidate: Level;
  calls: number;
  /** Sentences: where the higher config took the key, with the risk and thresholds under both, then the evidence quoted there. */
  why: string[];
}

export interface TuneReport {
  events: string;
  labels?: string;
  populations?: string;
  live: TuneRun;
  candidate: TuneRun;
  /** Per population (or label, without populations): its keys' label(s), keys at each level (the highest each reached) under each config. */
  groups: { group: string; label: Group | 'mixed'; keys: number; live: Record<Level, number>; candidate: Record<Level, number> }[];
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

/** Compares the two replays, per population when given, else per label (attack, benign, unlabelled). */
export function tuneReport(live: TuneRun, candidate: TuneRun, events: string, given: KeyGroups = {}): TuneReport {
  const { labels, populations } = given;
  const labelOf = (key: string): Group => {
    const a = labels?.attack.get(key);
    return a === undefined ? 'unlabelled' : a ? 'attack' : 'benign';
  };
  const groupOf = (key: string): string => populations?.of.get(key) ?? labelOf(key);
  const keys = [...new Set([...live.keys.keys(), ...candidate.keys.keys()])].sort();
  const byLabel = groupBy(keys, labelOf);
  const byGroup = groupBy(keys, groupOf);
  const order: Group[] = ['attack', 'benign', 'unlabelled'];
  const groupLabel = (ks: readonly string[]): Group | 'mixed' => {
    const set = new Set(ks.map(labelOf));
    return set.size === 1 ? [...set][0] : 'mixed';
  };
  const rank = (l: Group | 'mixed') => (l === 'mixed' ? 3 : order.indexOf(l));
  const groups = [...byGroup]
    .map(([group, ks]) => {
      const pick = (run: TuneRun) => ks.map((k) => run.keys.get(k)).filter((o): o is KeyOutcome => o !== undefined);
      return { group, label: groupLabel(ks), keys: ks.length, live: levelCounts(pick(live)), candidate: levelCounts(pick(candidate)) };
    })
    .sort((a, b) => rank(a.label) - rank(b.label) || (populations ? a.group.localeCompare(b.group) : 0));
  const changes: LevelChange[] = [];
  for (const k of keys) {
    const a = live.keys.get(k);
    const b = candidate.keys.get(k);
    const la = a?.peakLevel ?? 'allow';
    const lb = b?.peakLevel ?? 'allow';
    if (la === lb) continue;
    const why = levelRank(lb) > levelRank(la) ? explainChange(candidate, live, b!, a) : explainChange(live, candidate, a!, b);
    changes.push({ key: k, group: groupOf(k), label: labelOf(k), live: la, candidate: lb, calls: (b ?? a)!.calls, why });
  }
  changes.sort((x, y) => order.indexOf(x.label) - order.indexOf(y.label) || x.group.localeCompare(y.group) || x.key.localeCompare(y.key));
  const distributionsOf = (run: TuneRun) => {
    const out: TuneReport['distributions'] = {};
    for (const d of run.detectors) {
      out[d] = {};
      for (const g of order) if (byLabel.has(g)) out[d][g] = byLabel.get(g)!.map((k) => run.keys.get(k)?.peaks[d] ?? 0);
    }
    return out;
  };
  return { events, labels: labels?.path, populations: populations?.path, live, candidate, groups, changes, distributions: distributionsOf(live), candidateDistributions: distributionsOf(candidate) };
}

function groupBy<G>(keys: readonly string[], of: (key: string) => G): Map<G, string[]> {
  const out = new Map<G, string[]>();
  for (const k of keys) {
    const g = of(k);
    const list = out.get(g);
    if (list) list.push(k);
    else out.set(g, [k]);
  }
  return out;
}
