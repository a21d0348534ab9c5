/** An instant as `2026-01-05 09:02:13Z` (seconds), for tables. */
export function isoSeconds(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '-';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** A duration for people: `2h05m`, `59m`, `40s`. */
export function durationText(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '-';
  if (ms < 0) return 'expired';
  // To the nearest second: a TTL measured from a message timestamp is a few ms short of the round figure given.
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** Columns padded to their widest cell (the last left ragged). */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[], indent = '  '): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => indent + cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd() + '\n';
  return line(header) + rows.map(line).join('');
}

const BARS = '▁▂▃▄▅▆▇█';

/** A one-line sparkline of values in [0, 1], at most `width` characters (each the peak of its stretch). */
export function sparkline(values: readonly number[], width = 60): string {
  if (values.length === 0) return '';
  const n = Math.min(width, values.length);
  let out = '';
  for (let i = 0; i < n; i++) {
    const chunk = values.slice(Math.floor((i * values.length) / n), Math.floor(((i + 1) * values.length) / n));
    const peak = Math.max(...chunk);
    out += BARS[Math.min(BARS.length - 1, Math.max(0, Math.round(peak * (BARS.length - 1))))];
  }
  return out;
}
