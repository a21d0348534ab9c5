import type { KeyTimeline } from './KeyTimeline.ts';
import { sparkline } from './sparkline.ts';
import { textTable } from './textTable.ts';
import { durationText, isoSeconds } from './timeText.ts';

/** Each detector's last and peak score over the key's calls, and the call of the peak. */
export function detectorPeaks(t: KeyTimeline): { name: string; last: number; peak: number; peakCall: number }[] {
  return t.detectors.map((name) => {
    let peak = 0;
    let peakCall = 0;
    for (const c of t.calls) {
      const v = c.detectors[name] ?? 0;
      if (v > peak) [peak, peakCall] = [v, c.events_seen];
    }
    return { name, last: t.calls.at(-1)?.detectors[name] ?? 0, peak, peakCall };
  });
}

/** `probewatch explain` for a terminal. */
export function timelineText(t: KeyTimeline, now?: number): string {
  const first = t.calls[0];
  const last = t.calls.at(-1);
  let out = `probewatch explain ${t.api_key} (${t.source}: ${t.origin})\n`;
  if (first && last) {
    out += `  ${last.events_seen} calls seen, ${isoSeconds(first.ts)} → ${isoSeconds(last.ts)}; now ${last.level}, risk ${last.risk.toFixed(2)}`;
    out += t.source === 'live' ? ` (${t.calls.length} scores published)\n` : '\n';
  } else {
    out += '  no scores seen for this key\n';
  }
  out += `  thresholds: ${Object.entries(t.thresholds).map(([l, v]) => `${l} ${v}`).join(', ')}\n`;

  out += `\nLevel changes (${t.changes.length})\n`;
  for (const c of t.changes) {
    out += `  ${isoSeconds(c.ts)}  call ${String(c.events_seen).padStart(6)}  ${c.from} → ${c.to}  risk ${c.risk.toFixed(2)}\n`;
    for (const e of c.evidence) out += `      ${e}\n`;
  }

  out += `\nDecisions (${t.decisions.length})\n`;
  if (t.decisions.length) {
    out += textTable(
      ['ISSUED', 'LEVEL', 'BY', 'SUBJECT', 'TTL', 'EXPIRES', 'REASON'],
      t.decisions.map((d) => [
        isoSeconds(d.issued_at),
        d.level + (d.shadow ? ' (shadow)' : ''),
        d.by,
        d.subject,
        durationText(d.ttl_ms),
        isoSeconds(d.expires_at) + (d.in_force ? ` (in force${now === undefined ? '' : `, ${durationText(d.expires_at - now)} left`})` : ''),
        d.reason,
      ]),
    );
  }

  out += '\nDetector scores\n';
  out += textTable(
    ['DETECTOR', 'LAST', 'PEAK', 'AT CALL'],
    detectorPeaks(t).map((p) => [p.name, p.last.toFixed(2), p.peak.toFixed(2), String(p.peakCall)]),
  );
  if (t.calls.length) out += `\nRisk over the key's calls (peak of each stretch)\n  ${sparkline(t.calls.map((c) => c.risk))}\n`;
  if (t.latest?.evidence.length) out += `\nEvidence at the latest score\n${t.latest.evidence.map((e) => `  - ${e}\n`).join('')}`;
  return out;
}
