/** Escapes text for HTML and SVG (content and attribute values). */
export function esc(value: unknown): string {
  return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; padding: 0 16px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #777; } .evidence { font-size: 0.85em; color: #444; margin: 0; padding-left: 1.2em; }
.lvl-allow { color: #2e7d32; } .lvl-observe { color: #1f5fa8; } .lvl-throttle { color: #b8860b; }
.lvl-truncate { color: #d35400; } .lvl-deceive { color: #c0392b; } .lvl-block { color: #7b1fa2; font-weight: bold; }
figure { margin: 12px 0; } figcaption { font-size: 0.85em; color: #555; }
`;

/** A self-contained page: inline style, no script, no external resource. */
export function htmlPage(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/** An HTML table; cells are escaped unless given as `{ html }`. Numbers are right-aligned. */
export function htmlTable(header: readonly string[], rows: readonly (readonly (string | number | { html: string })[])[]): string {
  const cell = (c: string | number | { html: string }) =>
    typeof c === 'number' ? `<td class="num">${esc(c)}</td>` : typeof c === 'string' ? `<td>${esc(c)}</td>` : `<td>${c.html}</td>`;
  return `<table><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('')}</tbody></table>`;
}

/** A level name, coloured by its rung. */
export function levelHtml(level: string): string {
  return `<span class="lvl-${esc(level)}">${esc(level)}</span>`;
}
