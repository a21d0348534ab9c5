import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export const SECTION_BEGIN = '<!-- bench:quality begin -->';
export const SECTION_END = '<!-- bench:quality end -->';

/**
 * Puts `body` between this benchmark's markers in a shared results file,
 * replacing only the previous copy of this section; other sections and the
 * rest of the file are left as they are. The file is created when missing.
 */
export function replaceSection(text: string, body: string): string {
  const section = `${SECTION_BEGIN}\n${body.trim()}\n${SECTION_END}`;
  const begin = text.indexOf(SECTION_BEGIN);
  const end = text.indexOf(SECTION_END);
  if (begin >= 0 && end > begin) return text.slice(0, begin) + section + text.slice(end + SECTION_END.length);
  const base = text.trimEnd();
  return (base ? `${base}\n\n` : '# Benchmark results\n\n') + section + '\n';
}

export function writeSection(path: string, body: string): void {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  writeFileSync(path, replaceSection(text, body));
}
