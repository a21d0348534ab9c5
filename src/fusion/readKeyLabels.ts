import { readFileSync } from 'node:fs';
import { ProbewatchError } from '../errors.ts';

const ATTACK = new Set(['attack', '1']);
const BENIGN = new Set(['benign', '0']);

function usage(message: string): ProbewatchError {
  return new ProbewatchError('PW_USAGE', message);
}

/**
 * Reads a key → label file: CSV lines `api_key,label` (an `api_key,label`
 * header is optional) or JSON, either `{ "key": label }` or
 * `[{ "api_key": …, "label": … }]`. Labels are `attack`/`benign` or
 * `1`/`0` (case-insensitive; numbers in JSON). Returns key → true for
 * attack. Bad lines, unknown labels and keys labelled twice differently are
 * errors naming the line (or entry).
 */
export function readKeyLabels(path: string): Map<string, boolean> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ProbewatchError('PW_USAGE', `cannot read labels ${path}: ${(cause as Error).message}`, { cause });
  }
  const labels = new Map<string, boolean>();
  const add = (key: unknown, label: unknown, where: string) => {
    if (typeof key !== 'string' || key === '') throw usage(`${path}:${where}: expected an api_key string, got ${JSON.stringify(key)}`);
    const value = String(label).trim().toLowerCase();
    const attack = ATTACK.has(value) ? true : BENIGN.has(value) ? false : undefined;
    if (attack === undefined) throw usage(`${path}:${where}: label for ${key} must be attack, benign, 1 or 0, got ${JSON.stringify(label)}`);
    if (labels.has(key) && labels.get(key) !== attack) throw usage(`${path}:${where}: ${key} is labelled both attack and benign`);
    labels.set(key, attack);
  };
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (cause) {
      throw new ProbewatchError('PW_USAGE', `${path} is not valid JSON: ${(cause as Error).message}`, { cause });
    }
    if (Array.isArray(doc)) doc.forEach((e, i) => add((e as { api_key?: unknown })?.api_key, (e as { label?: unknown })?.label, `[${i}]`));
    else for (const [key, label] of Object.entries(doc as Record<string, unknown>)) add(key, label, JSON.stringify(key));
    return labels;
  }
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const cells = line.split(',').map((c) => c.trim());
    if (i === 0 && cells[0] === 'api_key') return;
    if (cells.length !== 2) throw usage(`${path}:${i + 1}: expected api_key,label, got ${JSON.stringify(line)}`);
    add(cells[0], cells[1], String(i + 1));
  });
  return labels;
}
