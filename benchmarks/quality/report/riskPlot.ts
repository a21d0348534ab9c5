import type { KeyTrace } from '../world/World.ts';

export interface PlotPanel {
  title: string;
  kind: 'benign' | 'attack';
  traces: readonly KeyTrace[];
}

export interface PlotOptions {
  thresholds: { throttle: number; truncate: number };
  columns?: number;
  caption?: string;
}

const W = 300;
const H = 190;
const PAD = { left: 38, right: 10, top: 24, bottom: 30 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** At most `max` points, keeping the first, the last and every local maximum of risk among evenly spaced ones. */
function thin(points: readonly [number, number][], max: number): [number, number][] {
  if (points.length <= max) return points.slice();
  const out: [number, number][] = [points[0]];
  const step = points.length / max;
  for (let i = 0; i < max; i++) {
    const chunk = points.slice(Math.floor(i * step), Math.floor((i + 1) * step));
    out.push(chunk.reduce((a, b) => (b[1] > a[1] ? b : a)));
  }
  out.push(points[points.length - 1]);
  return out;
}

/**
 * Small multiples of risk against the key's own call count (log scale), one
 * panel per population, one line per key, with the throttle and truncate
 * thresholds dashed. Plain SVG, no dependencies.
 */
export function riskVsQueriesSvg(panels: readonly PlotPanel[], options: PlotOptions): string {
  const cols = options.columns ?? 4;
  const rows = Math.ceil(panels.length / cols);
  const maxCalls = Math.max(10, ...panels.flatMap((p) => p.traces.map((t) => t.times.length)));
  const decades = Math.ceil(Math.log10(maxCalls));
  const captionH = options.caption ? 26 : 0;
  const width = cols * W;
  const height = rows * H + captionH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="10">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (options.caption) parts.push(`<text x="8" y="17" font-size="12">${esc(options.caption)}</text>`);
  panels.forEach((panel, n) => {
    const ox = (n % cols) * W;
    const oy = captionH + Math.floor(n / cols) * H;
    const pw = W - PAD.left - PAD.right;
    const ph = H - PAD.top - PAD.bottom;
    const sx = (calls: number) => ox + PAD.left + (Math.log10(Math.max(calls, 1)) / decades) * pw;
    const sy = (risk: number) => oy + PAD.top + (1 - Math.min(1, Math.max(0, risk))) * ph;
    const color = panel.kind === 'attack' ? '#c0392b' : '#1f5fa8';
    parts.push(`<g>`);
    parts.push(`<text x="${ox + PAD.left}" y="${oy + 15}" font-size="11" font-weight="bold">${esc(panel.title)} (${panel.traces.length} key${panel.traces.length === 1 ? '' : 's'})</text>`);
    parts.push(`<rect x="${ox + PAD.left}" y="${oy + PAD.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
    for (const [name, value] of Object.entries(options.thresholds)) {
      parts.push(`<line x1="${ox + PAD.left}" x2="${ox + PAD.left + pw}" y1="${sy(value).toFixed(1)}" y2="${sy(value).toFixed(1)}" stroke="#777" stroke-dasharray="4 3"/>`);
      parts.push(`<text x="${ox + PAD.left + pw - 2}" y="${(sy(value) - 2).toFixed(1)}" text-anchor="end" fill="#555" font-size="8">${name}</text>`);
    }
    for (let d = 0; d <= decades; d++) {
      const x = sx(10 ** d);
      parts.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${oy + PAD.top + ph}" y2="${oy + PAD.top + ph + 3}" stroke="#999"/>`);
      parts.push(`<text x="${x.toFixed(1)}" y="${oy + PAD.top + ph + 13}" text-anchor="middle">${10 ** d}</text>`);
    }
    for (const v of [0, 0.5, 1]) parts.push(`<text x="${ox + PAD.left - 4}" y="${(sy(v) + 3).toFixed(1)}" text-anchor="end">${v}</text>`);
    parts.push(`<text x="${ox + PAD.left + pw / 2}" y="${oy + H - 4}" text-anchor="middle" fill="#555">calls by the key (log)</text>`);
    parts.push(`<text transform="translate(${ox + 10} ${oy + PAD.top + ph / 2}) rotate(-90)" text-anchor="middle" fill="#555">risk</text>`);
    for (const t of panel.traces) {
      const pts = thin([[0, 0], ...t.risk], 200);
      if (pts.length < 2) continue;
      const d = pts.map(([c, r], i) => `${i ? 'L' : 'M'}${sx(c).toFixed(1)} ${sy(r).toFixed(1)}`).join('');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-opacity="0.45" stroke-width="1.2"/>`);
    }
    parts.push(`</g>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
