import { htmlPage, htmlTable, levelHtml, esc } from './html.ts';
import type { KeyTimeline } from './KeyTimeline.ts';
import { LEVEL_COLOURS, PALETTE } from './palette.ts';
import { svgLinePlot } from './svgLinePlot.ts';
import { detectorPeaks } from './timelineText.ts';
import { durationText, isoSeconds } from './timeText.ts';

/** `probewatch explain --html`: one self-contained page with the key's risk and detector scores plotted over its calls. */
export function timelineHtml(t: KeyTimeline, now?: number): string {
  const last = t.calls.at(-1);
  // Risk last, so it is drawn over the detectors' lines.
  const series = [
    ...t.detectors.map((name, i) => ({ name, colour: PALETTE[i % PALETTE.length], width: 1.2, points: t.calls.map((c) => [c.events_seen, c.detectors[name] ?? 0] as const) })),
    { name: 'risk', colour: '#000', width: 2.5, points: t.calls.map((c) => [c.events_seen, c.risk] as const) },
  ];
  const plot = svgLinePlot(series, {
    xLabel: t.source === 'live' ? 'calls seen (at each published score)' : "the key's calls",
    yLabel: 'score',
    hRules: Object.entries(t.thresholds).map(([level, value]) => ({ value, label: `${level} ${value}`, colour: LEVEL_COLOURS[level] })),
    vMarks: t.changes.map((c) => ({ value: c.events_seen, label: `→ ${c.to}`, colour: LEVEL_COLOURS[c.to] })),
  });
  const body: string[] = [
    `<h1>probewatch explain: ${esc(t.api_key)}</h1>`,
    `<p class="muted">${esc(t.source)} — ${esc(t.origin)}</p>`,
    last
      ? `<p>${last.events_seen} calls seen, ${esc(isoSeconds(t.calls[0].ts))} → ${esc(isoSeconds(last.ts))}; now ${levelHtml(last.level)}, risk ${last.risk.toFixed(2)}.</p>`
      : '<p>No scores seen for this key.</p>',
    `<figure>${plot}<figcaption>Risk (black) and each detector's score over the key's calls; dashed: the ladder's thresholds; vertical: level changes.</figcaption></figure>`,
    `<h2>Level changes (${t.changes.length})</h2>`,
    htmlTable(
      ['time', 'call', 'change', 'risk', 'evidence'],
      t.changes.map((c) => [
        isoSeconds(c.ts),
        c.events_seen,
        { html: `${levelHtml(c.from)} → ${levelHtml(c.to)}` },
        c.risk.toFixed(2),
        { html: c.evidence.length ? `<ul class="evidence">${c.evidence.map((e) => `<li>${esc(e)}</li>`).join('')}</ul>` : '' },
      ]),
    ),
    `<h2>Decisions (${t.decisions.length})</h2>`,
    htmlTable(
      ['issued', 'level', 'by', 'subject', 'TTL', 'expires', 'reason'],
      t.decisions.map((d) => [
        isoSeconds(d.issued_at),
        { html: levelHtml(d.level) + (d.shadow ? ' (shadow)' : '') },
        d.by,
        d.subject,
        durationText(d.ttl_ms),
        isoSeconds(d.expires_at) + (d.in_force ? ` (in force${now === undefined ? '' : `, ${durationText(d.expires_at - now)} left`})` : ''),
        d.reason,
      ]),
    ),
    `<h2>Detector scores</h2>`,
    htmlTable(['detector', 'last', 'peak', 'at call'], detectorPeaks(t).map((p) => [p.name, p.last.toFixed(2), p.peak.toFixed(2), p.peakCall])),
  ];
  if (t.latest?.evidence.length) body.push(`<h2>Evidence at the latest score</h2><ul>${t.latest.evidence.map((e) => `<li>${esc(e)}</li>`).join('')}</ul>`);
  return htmlPage(`probewatch explain ${t.api_key}`, body.join('\n'));
}
