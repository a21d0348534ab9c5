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

/** Writes already-rendered Markdown as benchmark `name`'s section of RESULTS.md, replacing the previous one. */
export function replaceResultsBlock(name: string, markdown: string, path = RESULTS_PATH): void {
  const begin = `<!-- bench:${name} begin -->`;
  const end = `<!-- bench:${name} end -->`;
  const block = `${begin}\n${markdown.trimEnd()}\n${end}\n`;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmark results\n';
  const i = current.indexOf(begin);
  const j = current.indexOf(end);
  const next = i >= 0 && j > i ? current.slice(0, i) + block + current.slice(j + end.length).replace(/^\n/, '') : `${current.trimEnd()}\n\n${block}`;
  writeFileSync(path, next);
}
