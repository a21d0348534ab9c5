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
