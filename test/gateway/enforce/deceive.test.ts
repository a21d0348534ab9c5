import { createSecretKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { adaptiveMisinformation, keyedWrongClass, rankReversed } from '../../../src/gateway/enforce/adaptiveMisinformation.ts';
import { deceiveProbs } from '../../../src/gateway/enforce/deceiveProbs.ts';
import { parseEnforcementOptions } from '../../../src/gateway/enforce/enforcementOptions.ts';
import { reverseSigmoid } from '../../../src/gateway/enforce/reverseSigmoid.ts';
import { argmaxOf, inputHash, randomProbVectors, sum } from './helpers.ts';

const secret = createSecretKey(Buffer.alloc(32, 0x5a));
const defaults = parseEnforcementOptions({}).deceive;
const reverse = parseEnforcementOptions({ deceive: { mode: 'reverse-sigmoid' } }).deceive;

describe('reverseSigmoid', () => {
  it('is the Lee et al. perturbation: y − β(s(γ·logit y) − ½), renormalised', () => {
    const y = [0.9, 0.1];
    // r(0.9) = s(0.1·ln 9) − ½ and r(0.1) = −r(0.9): the sum stays 1, so no renormalising here.
    const r = 1 / (1 + Math.exp(-0.1 * Math.log(9))) - 0.5;
    const out = reverseSigmoid(y, 1, 0.1);
    expect(out[0]).toBeCloseTo(0.9 - r, 12);
    expect(out[1]).toBeCloseTo(0.1 + r, 12);
  });

  it('reverses the order of small probabilities (the deception)', () => {
    const out = reverseSigmoid([0.95, 0.04, 0.009, 0.001], 1, 0.1);
    expect(out[3]).toBeGreaterThan(out[2]);
    expect(out[2]).toBeGreaterThan(out[1] * 0.5);
    expect(out[0]).toBeLessThan(0.95);
    expect(sum(out)).toBeCloseTo(1, 12);
  });
});

describe('deceiveProbs, reverse sigmoid', () => {
  const vectors = randomProbVectors(400, 5);

  it('keeps the top-1, sums to 1 and changes the probabilities', () => {
    vectors.forEach((p, i) => {
      const q = deceiveProbs(p, { apiKey: 'k', inputHash: inputHash(i) }, reverse, { secret });
      expect(argmaxOf(q)).toBe(argmaxOf(p));
      expect(sum(q)).toBeCloseTo(1, 12);
      expect(q.every((v) => v > 0 && v < 1)).toBe(true);
    });
    const changed = vectors.filter((p, i) => {
      const q = deceiveProbs(p, { apiKey: 'k', inputHash: inputHash(i) }, reverse, { secret });
      return Math.max(...q.map((v, c) => Math.abs(v - p[c]))) > 0.02;
    });
    expect(changed.length).toBeGreaterThan(vectors.length * 0.9);
  });

  it('keeps the top-1 even with a β large enough to move it', () => {
    const strong = { ...reverse, beta: 3, gamma: 0.8 };
    for (const [i, p] of vectors.entries()) expect(argmaxOf(deceiveProbs(p, { apiKey: 'k', inputHash: inputHash(i) }, strong, { secret }))).toBe(argmaxOf(p));
  });

  it('gives a repeated query the identical answer, so averaging removes nothing', () => {
    const p = vectors[3];
    const q = { apiKey: 'key-a', inputHash: inputHash('x') };
    expect(deceiveProbs(p, q, reverse, { secret })).toEqual(deceiveProbs(p, { ...q, inputHash: inputHash('x') }, reverse, { secret }));
  });

  it('gives different keys, inputs and secrets different perturbations', () => {
    const p = vectors[3];
    const base = deceiveProbs(p, { apiKey: 'key-a', inputHash: inputHash('x') }, reverse, { secret });
    expect(deceiveProbs(p, { apiKey: 'key-b', inputHash: inputHash('x') }, reverse, { secret })).not.toEqual(base);
    expect(deceiveProbs(p, { apiKey: 'key-a', inputHash: inputHash('y') }, reverse, { secret })).not.toEqual(base);
    expect(deceiveProbs(p, { apiKey: 'key-a', inputHash: inputHash('x') }, reverse, { secret: createSecretKey(Buffer.alloc(32, 1)) })).not.toEqual(base);
  });

  it('is plain Reverse Sigmoid without noise or watermark', () => {
    const p = [0.7, 0.2, 0.06, 0.04];
    const q = deceiveProbs(p, { apiKey: 'k', inputHash: inputHash(1) }, { ...reverse, noise: 0 });
    const rs = reverseSigmoid(p, reverse.beta, reverse.gamma);
    q.forEach((v, i) => expect(v).toBeCloseTo(rs[i], 12));
  });
});

describe('adaptive misinformation', () => {
  it('reverses the ranks of a probability vector', () => {
    expect(rankReversed([0.6, 0.3, 0.1])).toEqual([0.1, 0.3, 0.6]);
    expect(rankReversed([0.1, 0.5, 0.15, 0.25])).toEqual([0.5, 0.1, 0.25, 0.15]);
  });

  it('passes confident answers and gives unconfident ones another label (not label-preserving)', () => {
    const confident = [0.8, 0.1, 0.06, 0.04];
    const unsure = [0.4, 0.3, 0.2, 0.1];
    expect(adaptiveMisinformation(confident, 0.5, 1000)).toEqual(confident);
    const mis = adaptiveMisinformation(unsure, 0.5, 1000);
    expect(argmaxOf(mis)).toBe(3);
    expect(sum(mis)).toBeCloseTo(1, 12);
  });

  it('misinforms every answer, confident ones too, with τ = 1', () => {
    expect(adaptiveMisinformation([0.8, 0.1, 0.06, 0.04], 1, 1000)).toEqual([0.04, 0.06, 0.1, 0.8]);
  });

  it('blends smoothly near τ with a small ν', () => {
    const atTau = adaptiveMisinformation([0.5, 0.3, 0.2], 0.5, 10);
    // α = ½ at y_max = τ: halfway between y and its rank reversal.
    [0.35, 0.3, 0.35].forEach((v, i) => expect(atTau[i]).toBeCloseTo(v, 12));
  });

  it('swaps the top class with a keyed other class by default: wrong, repeatable, and not one fixed rule', () => {
    const p = [0.5, 0.2, 0.15, 0.1, 0.05];
    const settings = defaults;
    expect(settings.mode).toBe('misinformation');
    const labels = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const q = { apiKey: `k${i % 7}`, inputHash: inputHash(i) };
      const out = deceiveProbs(p, q, settings);
      expect(argmaxOf(out)).not.toBe(0);
      expect([...out].sort()).toEqual([...p].sort());
      expect(deceiveProbs(p, q, settings)).toEqual(out);
      labels.add(argmaxOf(out));
    }
    expect(labels).toEqual(new Set([1, 2, 3, 4]));
    const fixed = keyedWrongClass(() => 0.99)([0.1, 0.6, 0.3]);
    expect(fixed).toEqual([0.6, 0.1, 0.3]);
  });

  it('misinforms confident answers in the default mode, where the gated mode lets them pass', () => {
    const confident = [0.9, 0.05, 0.03, 0.02];
    const q = { apiKey: 'k', inputHash: inputHash('confident') };
    expect(argmaxOf(deceiveProbs(confident, q, defaults, { secret }))).not.toBe(0);
    expect(deceiveProbs(confident, q, { ...defaults, mode: 'adaptive-misinformation' }, { secret })).toEqual(confident);
  });

  it('keys the wrong class by the secret: another secret picks another class for some inputs', () => {
    const p = [0.5, 0.2, 0.15, 0.1, 0.05];
    const other = createSecretKey(Buffer.alloc(32, 1));
    const differ = Array.from({ length: 50 }, (_, i) => ({ apiKey: 'k', inputHash: inputHash(i) })).filter(
      (q) => argmaxOf(deceiveProbs(p, q, defaults, { secret })) !== argmaxOf(deceiveProbs(p, q, defaults, { secret: other })),
    );
    expect(differ.length).toBeGreaterThan(20);
  });

  it('is what deceive answers in adaptive-misinformation mode, with a custom misinformation model', () => {
    const settings = { ...defaults, mode: 'adaptive-misinformation' as const };
    const p = [0.45, 0.35, 0.2];
    expect(argmaxOf(deceiveProbs(p, { apiKey: 'k', inputHash: inputHash(1) }, settings))).not.toBe(0);
    const toClass1 = () => [0, 1, 0];
    expect(argmaxOf(deceiveProbs(p, { apiKey: 'k', inputHash: inputHash(1) }, settings, { misinformation: toClass1 }))).toBe(1);
  });
});
