import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readKeyPopulations } from '../../src/report/readKeyPopulations.ts';

function file(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'pw-pop-')), 'populations');
  writeFileSync(path, text);
  return path;
}

describe('readKeyPopulations', () => {
  it('reads CSV (header and comments optional, commas allowed in names) and JSON', () => {
    expect(readKeyPopulations(file('api_key,population\n# people\nk1, interactive users \r\nk2,partner A, lab\n'))).toEqual(
      new Map([
        ['k1', 'interactive users'],
        ['k2', 'partner A, lab'],
      ]),
    );
    expect(readKeyPopulations(file('{"k1": "knockoff", "k2": "people"}'))).toEqual(new Map([['k1', 'knockoff'], ['k2', 'people']]));
  });

  it('names the line of a bad entry', () => {
    expect(() => readKeyPopulations(file('k1,people\nk2\n'))).toThrow(/:2: expected api_key,population, got "k2"/);
    expect(() => readKeyPopulations(file('k1,people\nk1,bots\n'))).toThrow(/:2: k1 is in both "people" and "bots"/);
    expect(() => readKeyPopulations(file('k1, \n'))).toThrow(/:1: population for k1 must be a non-empty name/);
    expect(() => readKeyPopulations(file('{"k1": 3}'))).toThrow(/population for k1 must be a non-empty name, got 3/);
    expect(() => readKeyPopulations('/nonexistent/file')).toThrow(/cannot read populations \/nonexistent\/file/);
  });
});
