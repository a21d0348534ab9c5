import { esc } from './html.ts';

/** One line of a plot. */
export interface LineSeries {
  name: string;
  colour: string;
  /** [x, y] in data units, x ascending. */
  points: readonly (readonly [number, number])[];
  width?: number;
  dashed?: boolean;
}

/** A horizontal rule across the plot (a threshold). */
export interface Rule {
  value: number;
  label: string;
  colour: string;
}

export interface LinePlotOptions {
  width?: number;
  height?: number;
  xLabel: string;
  yLabel: string;
  /** y range; default [0, 1]. */
  yMax?: number;
  hRules?: readonly Rule[];
  /** Vertical markers at x, labelled (e.g. level changes). */
  vMarks?: readonly Rule[];
  /** Most points drawn per series; longer series keep each stretch's extremes. */
  maxPoints?: number;
}

/** At most `max` points: the first, the last and each stretch's highest and lowest, so peaks survive. */
export function thinPoints(points: readonly (readonly [number, number])[], max: number): (readonly [number, number])[] {
  if (points.length <= max) return points.slice();
  const out: (readonly [number, number])[] = [points[0]];
  const per = points.length / (max / 2);
  for (let i = 0; i < max / 2; i++) {
    const chunk = points.slice(Math.floor(i * per), Math.floor((i + 1) * per));
    if (chunk.length === 0) continue;
    let lo = chunk[0];
    let hi = chunk[0];
    for (const p of chunk) {
      if (p[1] < lo[1]) lo = p;
      if (p[1] > hi[1]) hi = p;
    }
    out.push(...(lo[0] <= hi[0] ? [lo, hi] : [hi, lo]));
  }
  out.push(points[points.length - 1]);
  return out;
}

function niceTicks(max: number, count: number): number[] {
  if (max <= 0) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/**
 * A line plot as inline SVG (no script, no font or image to fetch): lines
 * over a linear x axis, y in [0, yMax], dashed horizontal rules for
 * thresholds, vertical marks for events, and a legend.
 */
export function svgLinePlot(series: readonly LineSeries[], options: LinePlotOptions): string {
  const W = options.width ?? 1000;
  const legendRows = Math.ceil(series.length / 5);
  const H = options.height ?? 360;
  const pad = { left: 48, right: 120, top: 14, bottom: 40 + legendRows * 16 };
  const pw = W - pad.left - pad.right;
  const ph = H - pad.top - pad.bottom;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const xMin = xs.length ? Math.min(...xs) : 0;
  const xMax = Math.max(xMin + 1, ...xs);
  const yMax = options.yMax ?? 1;
  const sx = (x: number) => pad.left + ((x - xMin) / (xMax - xMin)) * pw;
  const sy = (y: number) => pad.top + (1 - Math.min(yMax, Math.max(0, y)) / yMax) * ph;
  const f = (n: number) => n.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
  ];
  for (const t of niceTicks(yMax, 5)) {
    out.push(`<line x1="${pad.left}" x2="${pad.left + pw}" y1="${f(sy(t))}" y2="${f(sy(t))}" stroke="#eee"/>`);
    out.push(`<text x="${pad.left - 6}" y="${f(sy(t) + 4)}" text-anchor="end" fill="#555">${t}</text>`);
  }
  for (const t of niceTicks(xMax - xMin, 8)) {
    const x = sx(xMin + t);
    out.push(`<line x1="${f(x)}" x2="${f(x)}" y1="${pad.top + ph}" y2="${pad.top + ph + 4}" stroke="#555"/>`);
    out.push(`<text x="${f(x)}" y="${pad.top + ph + 16}" text-anchor="middle" fill="#555">${Number((xMin + t).toPrecision(6))}</text>`);
  }
  out.push(`<rect x="${pad.left}" y="${pad.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  out.push(`<text x="${pad.left + pw / 2}" y="${pad.top + ph + 32}" text-anchor="middle">${esc(options.xLabel)}</text>`);
  out.push(`<text transform="translate(14 ${pad.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(options.yLabel)}</text>`);
  for (const r of options.hRules ?? []) {
    if (r.value > yMax) continue;
    out.push(`<line x1="${pad.left}" x2="${pad.left + pw}" y1="${f(sy(r.value))}" y2="${f(sy(r.value))}" stroke="${r.colour}" stroke-dasharray="5 4"/>`);
    out.push(`<text x="${pad.left + pw + 4}" y="${f(sy(r.value) + 4)}" fill="${r.colour}">${esc(r.label)}</text>`);
  }
  for (const m of options.vMarks ?? []) {
    const x = sx(m.value);
    out.push(`<line x1="${f(x)}" x2="${f(x)}" y1="${pad.top}" y2="${pad.top + ph}" stroke="${m.colour}" stroke-opacity="0.6"/>`);
    out.push(`<text x="${f(x + 3)}" y="${pad.top + 11}" fill="${m.colour}">${esc(m.label)}</text>`);
  }
  for (const s of series) {
    const pts = thinPoints(s.points, options.maxPoints ?? 1500);
    if (pts.length === 0) continue;
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${f(sx(p[0]))} ${f(sy(p[1]))}`).join('');
    out.push(`<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="${s.width ?? 1.5}"${s.dashed ? ' stroke-dasharray="3 3"' : ''}><title>${esc(s.name)}</title></path>`);
  }
  series.forEach((s, i) => {
    const x = pad.left + (i % 5) * (pw / 5);
    const y = H - legendRows * 16 + Math.floor(i / 5) * 16 + 2;
    out.push(`<line x1="${f(x)}" x2="${f(x + 18)}" y1="${y}" y2="${y}" stroke="${s.colour}" stroke-width="${s.width ?? 1.5}"${s.dashed ? ' stroke-dasharray="3 3"' : ''}/>`);
    out.push(`<text x="${f(x + 22)}" y="${y + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
