import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/gateway/RandomProjection.ts';
import { sigmoid } from '../../src/fusion/logistic.ts';
import type { ScoredKey } from '../../src/fusion/ScoredKey.ts';
import { buildTrainingSet } from '../../src/fusion/trainingSet.ts';
import { trainLogistic } from '../../src/fusion/trainLogistic.ts';

function key(name: string, attack: boolean, rows: number[][]): ScoredKey {
  return { key: name, attack, tenant: null, events: rows.length, scores: Float64Array.from(rows.flat()), ts: Float64Array.from(rows, (_, i) => i * 1000) };
}

/**
 * Keys whose labels are drawn from a known logistic model of their peak
 * score vector, each preceded by quiet events (an attack's benign-looking
 * start), plus a feature that is higher for benign keys.
 */
function population(n: number, seed: number, truth: { bias: number; weights: number[] }): ScoredKey[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => {
    const peak = truth.weights.map(() => rand());
    const attack = rand() < sigmoid(truth.bias + peak.reduce((z, s, j) => z + truth.weights[j] * s, 0));
    const quiet = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => peak.map((s) => s * rand() * 0.3));
    // Column 3 is volume-like and excluded from the features; column 4 is higher for benign keys.
    return key(`k${i}`, attack, [...quiet, peak].map((v) => [...v, rand(), attack ? rand() * 0.5 : 0.5 + rand() * 0.5]));
  });
}

describe('trainLogistic on max-pooled keys', () => {
  const truth = { bias: -3, weights: [4, 2, 0] };
  const keys = population(3000, 11, truth);

  it('recovers the direction of a known logistic model, with exactly 0 for a detector that points the wrong way', async () => {
    const set = buildTrainingSet(keys, 5, [0, 1, 2, 4]);
    expect(set.features).toBe(4);
    const fit = await trainLogistic(set, { l2: 1e-6 });
    const [a, b, c, wrongWay] = fit.weights;
    expect(wrongWay).toBe(0);
    expect(a / b).toBeGreaterThan(1.6);
    expect(a / b).toBeLessThan(2.5);
    expect(c / a).toBeLessThan(0.1);
    // Class balancing shifts the bias only (by the log of the class weight ratio), not the slopes.
    const attacks = keys.filter((k) => k.attack).length;
    expect(fit.bias).toBeCloseTo(truth.bias + Math.log((keys.length - attacks) / attacks), 0);
    expect(a).toBeGreaterThan(truth.weights[0] * 0.8);
    expect(a).toBeLessThan(truth.weights[0] * 1.25);
  }, 60_000);

  it('is deterministic', async () => {
    const set = buildTrainingSet(keys.slice(0, 500), 5, [0, 1, 2]);
    const [one, two] = [await trainLogistic(set), await trainLogistic(set)];
    expect(two).toEqual(one);
    expect(one.steps).toBeGreaterThan(100);
  }, 60_000);
});
