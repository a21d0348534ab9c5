import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { detectorKinds } from '../../src/fusion/detectorKinds.ts';
import { writeFusionWeights } from '../../src/fusion/writeFusionWeights.ts';

const example = readFileSync(new URL('../../examples/probewatch.yaml', import.meta.url), 'utf8');
const weights = Object.fromEntries([...detectorKinds()].filter(([, k]) => k === 'behaviour').map(([n], i) => [n, i / 2]));

describe('writeFusionWeights', () => {
  it('sets method, bias and weights and keeps comments and every other key', () => {
    const text = writeFusionWeights(example, { bias: -4.5, weights }, 'example');
    const before = parse(example);
    const after = parse(text);
    expect(after.fusion).toEqual({ ...before.fusion, method: 'logistic', bias: -4.5, weights: { ...before.fusion?.weights, ...weights } });
    const { fusion: _a, ...restAfter } = after;
    const { fusion: _b, ...restBefore } = before;
    expect(restAfter).toEqual(restBefore);
    for (const comment of example.split('\n').filter((l) => l.trimStart().startsWith('#'))) expect(text).toContain(comment.trim());
    expect(parseConfig(after).fusion).toMatchObject({ method: 'logistic', bias: -4.5 });
  });

  it('starts a config from nothing and keeps weights it was not given', () => {
    const first = writeFusionWeights('', { bias: -3, weights: { entropy: 1 } }, 'new');
    expect(parse(first)).toEqual({ fusion: { method: 'logistic', bias: -3, weights: { entropy: 1 } } });
    const second = writeFusionWeights('# mine\n' + first, { bias: -2, weights: { 'grid-sweep': 2 } }, 'new');
    expect(second.startsWith('# mine\n')).toBe(true);
    expect(parse(second).fusion).toEqual({ method: 'logistic', bias: -2, weights: { entropy: 1, 'grid-sweep': 2 } });
  });

  it('refuses YAML it cannot update, naming the file', () => {
    expect(() => writeFusionWeights('- a\n- b\n', { bias: 0, weights: {} }, 'list.yaml')).toThrow(/list\.yaml: the top level must be a mapping/);
    expect(() => writeFusionWeights('fusion: 3\n', { bias: 0, weights: {} }, 'f.yaml')).toThrow(/f\.yaml: fusion must be a mapping/);
    expect(() => writeFusionWeights('a: [\n', { bias: 0, weights: {} }, 'bad.yaml')).toThrow(/bad\.yaml is not valid YAML/);
  });
});
