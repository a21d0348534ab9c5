import { LEVELS } from '../contract.ts';
import { esc, htmlPage, htmlTable, levelHtml } from './html.ts';
import type { LadderStep } from './detectorThresholds.ts';
import { svgScoreHistogram } from './svgScoreHistogram.ts';
import type { TuneReport } from './tuneReport.ts';

const GROUP_COLOURS: Record<string, string> = { attack: '#c0392b', benign: '#1f5fa8', unlabelled: '#777' };

/** `probewatch tune --html`: the comparison as one self-contained page with SVG histograms. */
export function tuneHtml(r: TuneReport): string {
  const steps = LEVELS.slice(1) as LadderStep[];
  const body: string[] = [
    `<h1>probewatch tune: what the candidate config would have done</h1>`,
    `<p class="muted">${esc(r.events)}${r.labels ? ` — labels ${esc(r.labels)}` : ' — no labels'}${r.populations ? ` — populations ${esc(r.populations)}` : ''}</p>`,
    htmlTable(
      ['config', 'file', 'sha256', ...steps],
      [r.live, r.candidate].map((run) => [run.label, run.file, run.sha256.slice(0, 12), ...steps.map((l) => run.thresholds[l])]),
    ),
    `<h2>Keys at each level (the highest each reached)</h2>`,
    htmlTable(
      [r.populations ? 'population' : 'group', 'label', 'keys', 'config', ...LEVELS],
      r.groups.flatMap((g) => [
        [g.group, g.label, g.keys, 'live', ...LEVELS.map((l) => g.live[l])],
        ['', '', '', 'candidate', ...LEVELS.map((l) => (g.candidate[l] === g.live[l] ? g.candidate[l] : { html: `<b>${g.candidate[l]}</b>` }))],
      ]),
    ),
    `<h2>Keys that change level (${r.changes.length})</h2>`,
    r.changes.length
      ? htmlTable(
          ['key', r.populations ? 'population' : 'group', 'calls', 'live → candidate', 'why'],
          r.changes.map((c) => [
            c.key,
            c.group === c.label ? c.label : `${c.group} (${c.label})`,
            c.calls,
            { html: `${levelHtml(c.live)} → ${levelHtml(c.candidate)}` },
            { html: `<ul class="evidence">${c.why.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` },
          ]),
        )
      : '<p>No key reaches a different level.</p>',
    `<h2>Detector score distributions</h2>`,
    `<p class="muted">Each key's peak score per detector under the live config (bars; a dotted outline where the candidate's scores differ). Vertical lines: where each ladder threshold falls on the detector's own axis when it alone drives the risk — solid live, dashed candidate.</p>`,
  ];
  const groups = (['attack', 'benign', 'unlabelled'] as const).filter((g) => Object.values(r.distributions).some((d) => d[g]));
  for (const [detector, dist] of Object.entries(r.distributions)) {
    const thresholds = [r.live, r.candidate].flatMap((run, i) =>
      (['throttle', 'truncate', 'deceive'] as LadderStep[])
        .map((level) => ({ level, value: run.detectorThresholds[detector]?.[level] ?? null }))
        .filter((t): t is { level: LadderStep; value: number } => t.value !== null)
        .map((t) => ({ level: t.level, value: t.value, dashed: i === 1, label: `${i === 1 ? 'candidate' : 'live'} ${t.level} ${t.value.toFixed(2)}` })),
    );
    const svg = svgScoreHistogram(
      detector,
      groups.map((g) => ({ name: g, colour: GROUP_COLOURS[g], scores: dist[g] ?? [], other: r.candidateDistributions[detector]?.[g] })),
      thresholds,
    );
    body.push(`<figure style="display:inline-block">${svg}</figure>`);
  }
  return htmlPage('probewatch tune', body.join('\n'));
}
