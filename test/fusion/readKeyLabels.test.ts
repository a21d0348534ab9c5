import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readKeyLabels } from '../../src/fusion/readKeyLabels.ts';

function file(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'pw-labels-')), 'labels');
  writeFileSync(path, text);
  return path;
}

function errorOf(text: string): string {
  try {
    readKeyLabels(file(text));
  } catch (err) {
    expect((err as { code: string }).code).toBe('PW_USAGE');
    return (err as Error).message;
  }
  return '';
}

describe('readKeyLabels', () => {
  it('reads CSV with or without a header, attack/benign or 1/0', () => {
    expect(readKeyLabels(file('api_key,label\nk1,attack\nk2, Benign \r\n\nk3,1\nk4,0\n'))).toEqual(
      new Map([
        ['k1', true],
        ['k2', false],
        ['k3', true],
        ['k4', false],
      ]),
    );
    expect(readKeyLabels(file('k1,benign'))).toEqual(new Map([['k1', false]]));
  });

  it('reads JSON objects and arrays', () => {
    expect(readKeyLabels(file('{"k1": "attack", "k2": 0}'))).toEqual(
      new Map([
        ['k1', true],
        ['k2', false],
      ]),
    );
    expect(readKeyLabels(file('[{"api_key": "k1", "label": 1}, {"api_key": "k2", "label": "benign"}]'))).toEqual(
      new Map([
        ['k1', true],
        ['k2', false],
      ]),
    );
  });

  it('names the line of a bad label, a bad line, or a key labelled both ways', () => {
    expect(errorOf('api_key,label\nk1,attack\nk2,maybe\n')).toMatch(/:3: label for k2 must be attack, benign, 1 or 0, got "maybe"/);
    expect(errorOf('k1,attack,extra\n')).toMatch(/:1: expected api_key,label/);
    expect(errorOf('k1,attack\nk1,benign\n')).toMatch(/:2: k1 is labelled both attack and benign/);
    expect(errorOf('[{"api_key": 3, "label": 1}]')).toMatch(/:\[0\]: expected an api_key string/);
    expect(errorOf('{"k1": ')).toMatch(/is not valid JSON/);
  });
});
