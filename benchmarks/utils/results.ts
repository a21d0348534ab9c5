import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine } from './machine.ts';

export const RESULTS_PATH = join(dirname(dirname(fileURLToPath(import.meta.url))), 'RESULTS.md');

export interface ResultsSection {
  /** The npm script name without `bench:` (also the section's marker name). */
  name: string;
  title: string;
  /** How to reproduce, e.g. `npm run bench:detectors`. */
  command: string;
  /** Markdown after the header line: what was measured, the tables, notes. */
  body: string;
  /** Extra facts for the header line (backend, dataset, …). */
  setup?: string;
}

/** The section's Markdown: title, then command, machine and date, then the body. */
export function renderSection(s: ResultsSection, date = new Date()): string {
  const setup = s.setup ? ` · ${s.setup}` : '';
  return `## ${s.title} (\`${s.command}\`)\n\nCommand: \`${s.command}\` · machine: ${describeMachine()}${setup} · date: ${date.toISOString()}\n\n${s.body.trimEnd()}\n`;
}

/**
 * Writes or replaces one benchmark's section of benchmarks/RESULTS.md,
 * between `<!-- bench:NAME begin -->` and `<!-- bench:NAME end -->`, leaving
 * every other section as it is (new sections go at the end).
 */
export function writeResultsSection(s: ResultsSection, path = RESULTS_PATH): void {
  replaceResultsBlock(s.name, renderSection(s), path);
}

/** The HTML comments that delimit benchmark `name`'s section. */
export function sectionMarkers(name: string): { begin: string; end: string } {
  return { begin: `<!-- bench:${name} begin -->`, end: `<!-- bench:${name} end -->` };
}

/** `text` with benchmark `name`'s section replaced by `markdown` (appended when absent); other sections are kept. */
export function replaceBlock(text: string, name: string, markdown: string): string {
  const { begin, end } = sectionMarkers(name);
  const block = `${begin}\n${markdown.trim()}\n${end}\n`;
  const current = text.trim() ? text : '# Benchmark results\n';
  const i = current.indexOf(begin);
  const j = current.indexOf(end);
  return i >= 0 && j > i ? current.slice(0, i) + block + current.slice(j + end.length).replace(/^\n/, '') : `${current.trimEnd()}\n\n${block}`;
}

/** Writes already-rendered Markdown as benchmark `name`'s section of RESULTS.md, replacing the previous one. */
export function replaceResultsBlock(name: string, markdown: string, path = RESULTS_PATH): void {
  writeFileSync(path, replaceBlock(existsSync(path) ? readFileSync(path, 'utf8') : '', name, markdown));
}
