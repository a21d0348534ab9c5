import { LEVELS, type Level, levelRank } from '../contract.ts';

/** What the per-key gauges read of a key held in memory (a `KeyState` fits). */
export interface KeyStateView {
  key: string;
  risk: number;
  ladder: { level: Level };
  /** Each detector's last score of the key. */
  scores: Record<string, number>;
}

/** The keys in memory, read at each scrape. */
export type KeyStateSource = () => Iterable<KeyStateView>;

/** How many keys sit at each level of the ladder (every level present, 0 when none). */
export function countByLevel(states: Iterable<KeyStateView>): Record<Level, number> {
  const counts = Object.fromEntries(LEVELS.map((l) => [l, 0])) as Record<Level, number>;
  for (const s of states) counts[s.ladder.level]++;
  return counts;
}

/**
 * The `n` keys highest on the ladder, then by risk (ties by key, so a scrape
 * is deterministic). Keys at allow with no risk are left out. Ranking by level
 * first keeps every key at deceive or block in the list while there are at
 * most `n` of them, whatever their risk has decayed to.
 */
export function topKeys(states: Iterable<KeyStateView>, n: number): KeyStateView[] {
  const top: KeyStateView[] = [];
  for (const s of states) {
    if (s.risk <= 0 && s.ladder.level === 'allow') continue;
    if (top.length === n && compare(s, top[n - 1]) >= 0) continue;
    // Insertion into a list of at most n: O(keys × n) with small n, no sort of every key per scrape.
    let i = top.length < n ? top.length : n - 1;
    top[i] = s;
    while (i > 0 && compare(top[i], top[i - 1]) < 0) {
      [top[i - 1], top[i]] = [top[i], top[i - 1]];
      i--;
    }
  }
  return top;
}

function compare(a: KeyStateView, b: KeyStateView): number {
  return levelRank(b.ladder.level) - levelRank(a.ladder.level) || b.risk - a.risk || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}
