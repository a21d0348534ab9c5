import { LEVELS } from '../contract.ts';
import { textTable } from './textTable.ts';
import type { TuneReport } from './tuneReport.ts';

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))];
}

/** `probewatch tune` for a terminal. */
export function tuneText(r: TuneReport): string {
  let out = `probewatch tune ${r.events}${r.labels ? ` (labels ${r.labels})` : ''}${r.populations ? ` (populations ${r.populations})` : ''}\n`;
  out += `  live:      ${r.live.file} (sha256 ${r.live.sha256.slice(0, 12)}) thresholds ${LEVELS.slice(1).map((l) => `${l} ${r.live.thresholds[l as keyof typeof r.live.thresholds]}`).join(', ')}\n`;
  out += `  candidate: ${r.candidate.file} (sha256 ${r.candidate.sha256.slice(0, 12)}) thresholds ${LEVELS.slice(1).map((l) => `${l} ${r.candidate.thresholds[l as keyof typeof r.candidate.thresholds]}`).join(', ')}\n`;
  out += '\nKeys at each level (the highest each reached)\n';
  out += textTable(
    [r.populations ? 'POPULATION' : 'GROUP', 'LABEL', 'KEYS', 'CONFIG', ...LEVELS.map((l) => l.toUpperCase())],
    r.groups.flatMap((g) => [
      [g.group, g.label, String(g.keys), 'live', ...LEVELS.map((l) => String(g.live[l]))],
      ['', '', '', 'candidate', ...LEVELS.map((l) => String(g.candidate[l]))],
    ]),
  );
  out += `\nKeys that change level (${r.changes.length})\n`;
  for (const c of r.changes) {
    out += `  ${c.key} (${c.group === c.label ? c.label : `${c.group}, ${c.label}`}, ${c.calls} calls): ${c.live} → ${c.candidate}\n`;
    for (const w of c.why) out += `      ${w}\n`;
  }
  out += '\nDetector peak scores per key (median / 90th percentile / max)\n';
  const groups = (['attack', 'benign', 'unlabelled'] as const).filter((g) => Object.values(r.distributions).some((d) => d[g]));
  out += textTable(
    ['DETECTOR', ...groups.map((g) => g.toUpperCase()), 'THROTTLE AT (LIVE→CAND.)', 'TRUNCATE AT'],
    Object.entries(r.distributions).map(([d, dist]) => {
      const at = (run: typeof r.live, l: 'throttle' | 'truncate') => run.detectorThresholds[d]?.[l]?.toFixed(2) ?? '-';
      return [
        d,
        ...groups.map((g) => {
          const s = [...(dist[g] ?? [])].sort((a, b) => a - b);
          return `${quantile(s, 0.5).toFixed(2)} / ${quantile(s, 0.9).toFixed(2)} / ${(s.at(-1) ?? 0).toFixed(2)}`;
        }),
        `${at(r.live, 'throttle')} → ${at(r.candidate, 'throttle')}`,
        `${at(r.live, 'truncate')} → ${at(r.candidate, 'truncate')}`,
      ];
    }),
  );
  return out;
}
