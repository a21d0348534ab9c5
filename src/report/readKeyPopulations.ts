import { readFileSync } from 'node:fs';
import { ProbewatchError } from '../errors.ts';

/**
 * Reads a key → population file for `tune --populations`: CSV lines
 * `api_key,population` (an `api_key,population` header is optional; `#`
 * starts a comment) or JSON `{ "key": "population" }`. A population is any
 * name (`batch scorers`, `knockoff`, `partner A`); the report counts levels
 * per population. Bad lines and keys given two populations are errors
 * naming the line.
 */
export function readKeyPopulations(path: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ProbewatchError('PW_USAGE', `cannot read populations ${path}: ${(cause as Error).message}`, { cause });
  }
  const out = new Map<string, string>();
  const add = (key: unknown, population: unknown, where: string) => {
    if (typeof key !== 'string' || key === '') throw new ProbewatchError('PW_USAGE', `${path}:${where}: expected an api_key string, got ${JSON.stringify(key)}`);
    if (typeof population !== 'string' || population.trim() === '') throw new ProbewatchError('PW_USAGE', `${path}:${where}: population for ${key} must be a non-empty name, got ${JSON.stringify(population)}`);
    const name = population.trim();
    if (out.has(key) && out.get(key) !== name) throw new ProbewatchError('PW_USAGE', `${path}:${where}: ${key} is in both ${JSON.stringify(out.get(key))} and ${JSON.stringify(name)}`);
    out.set(key, name);
  };
  if (text.trimStart().startsWith('{')) {
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(text) as Record<string, unknown>;
    } catch (cause) {
      throw new ProbewatchError('PW_USAGE', `${path} is not valid JSON: ${(cause as Error).message}`, { cause });
    }
    for (const [key, population] of Object.entries(doc)) add(key, population, JSON.stringify(key));
    return out;
  }
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const comma = line.indexOf(',');
    if (comma < 0) throw new ProbewatchError('PW_USAGE', `${path}:${i + 1}: expected api_key,population, got ${JSON.stringify(line)}`);
    const key = line.slice(0, comma).trim();
    if (i === 0 && key === 'api_key') return;
    add(key, line.slice(comma + 1), String(i + 1));
  });
  return out;
}
