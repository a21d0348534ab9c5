import { esc } from './html.ts';
import { LEVEL_COLOURS } from './palette.ts';

/** One group's scores (one per key), e.g. attack keys' peak scores. */
export interface ScoreGroup {
  name: string;
  colour: string;
  scores: readonly number[];
  /** The same keys' scores under another config, drawn as an outline. */
  other?: readonly number[];
}

/** A threshold on the score axis. */
export interface AxisThreshold {
  level: string;
  value: number;
  dashed: boolean;
  label: string;
}

const BINS = 20;

function histogram(scores: readonly number[]): number[] {
  const bins = new Array<number>(BINS).fill(0);
  for (const s of scores) bins[Math.min(BINS - 1, Math.max(0, Math.floor(s * BINS)))]++;
  return bins;
}

/**
 * Score histograms (keys per 0.05 bin of score in [0, 1]), one row per
 * group, with thresholds as vertical lines across all rows — solid for one
 * config, dashed for the other. Inline SVG, nothing to fetch.
 */
export function svgScoreHistogram(title: string, groups: readonly ScoreGroup[], thresholds: readonly AxisThreshold[]): string {
  const W = 520;
  const rowH = 70;
  const pad = { left: 70, right: 12, top: 22, bottom: 62 };
  const H = pad.top + rowH * groups.length + pad.bottom;
  const pw = W - pad.left - pad.right;
  const sx = (v: number) => pad.left + v * pw;
  const f = (n: number) => n.toFixed(1);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="10">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${pad.left}" y="14" font-size="12" font-weight="bold">${esc(title)}</text>`,
  ];
  groups.forEach((g, row) => {
    const top = pad.top + row * rowH;
    const base = top + rowH - 8;
    const bins = histogram(g.scores);
    const other = g.other ? histogram(g.other) : undefined;
    const max = Math.max(1, ...bins, ...(other ?? []));
    const bh = (n: number) => (n / max) * (rowH - 16);
    out.push(`<text x="${pad.left - 6}" y="${f(top + rowH / 2)}" text-anchor="end">${esc(g.name)}</text>`);
    out.push(`<text x="${pad.left - 6}" y="${f(top + rowH / 2 + 12)}" text-anchor="end" fill="#777">${g.scores.length} keys</text>`);
    out.push(`<line x1="${pad.left}" x2="${pad.left + pw}" y1="${base}" y2="${base}" stroke="#999"/>`);
    bins.forEach((n, i) => {
      if (n === 0) return;
      out.push(`<rect x="${f(sx(i / BINS) + 1)}" y="${f(base - bh(n))}" width="${f(pw / BINS - 2)}" height="${f(bh(n))}" fill="${g.colour}" fill-opacity="0.7"><title>${n} keys at ${(i / BINS).toFixed(2)}–${((i + 1) / BINS).toFixed(2)}</title></rect>`);
    });
    if (other && other.some((n, i) => n !== bins[i])) {
      const d = other.map((n, i) => `${i ? 'L' : 'M'}${f(sx(i / BINS))} ${f(base - bh(n))}H${f(sx((i + 1) / BINS))}`).join('');
      out.push(`<path d="${d}" fill="none" stroke="#000" stroke-dasharray="2 2"><title>candidate</title></path>`);
    }
  });
  const bottom = pad.top + rowH * groups.length;
  for (let t = 0; t <= 10; t += 2) out.push(`<text x="${f(sx(t / 10))}" y="${bottom + 12}" text-anchor="middle" fill="#555">${(t / 10).toFixed(1)}</text>`);
  out.push(`<text x="${f(pad.left + pw / 2)}" y="${bottom + 25}" text-anchor="middle">peak score per key</text>`);
  for (const t of thresholds) {
    const x = sx(t.value);
    const colour = LEVEL_COLOURS[t.level] ?? '#000';
    out.push(`<line x1="${f(x)}" x2="${f(x)}" y1="${pad.top}" y2="${bottom}" stroke="${colour}"${t.dashed ? ' stroke-dasharray="4 3"' : ''}><title>${esc(t.label)}</title></line>`);
  }
  // The thresholds' values in two legend lines (solid, dashed): labels on the plot would collide where thresholds coincide.
  [false, true].forEach((dashed, row) => {
    const y = bottom + 40 + row * 12;
    let x = pad.left;
    out.push(`<line x1="${x}" x2="${x + 14}" y1="${y - 3}" y2="${y - 3}" stroke="#333"${dashed ? ' stroke-dasharray="4 3"' : ''}/>`);
    x += 18;
    for (const t of thresholds.filter((t) => t.dashed === dashed)) {
      const text = `${t.label}  `;
      out.push(`<text x="${f(x)}" y="${y}" fill="${LEVEL_COLOURS[t.level] ?? '#000'}">${esc(text)}</text>`);
      x += text.length * 5.6;
    }
  });
  out.push('</svg>');
  return out.join('\n');
}
