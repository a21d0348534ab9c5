/** A Markdown table (also readable as plain text on a terminal). */
export function markdownTable(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cell = (v: string | number) => String(v).replace(/\|/g, '\\|');
  const lines = [`| ${headers.map(cell).join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${r.map(cell).join(' | ')} |`);
  return `${lines.join('\n')}\n`;
}

/** Prints a table to stdout with a title line. */
export function printTable(title: string, headers: readonly string[], rows: readonly (readonly (string | number)[])[]): void {
  process.stdout.write(`\n${title}\n${markdownTable(headers, rows)}`);
}

/** A number with `digits` significant digits, without exponent notation for ordinary magnitudes. */
export function sig(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const mag = Math.floor(Math.log10(Math.abs(x)));
  return x.toFixed(Math.max(0, digits - 1 - mag));
}
