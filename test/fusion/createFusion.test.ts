import { describe, expect, it } from 'vitest';
import { createFusion, type FusionSettings } from '../../src/fusion/createFusion.ts';
import { fusionSchema } from '../../src/fusion/fusionSchema.ts';
import { logistic, logit, sigmoid } from '../../src/fusion/logistic.ts';

const detectors = [{ name: 'volume', kind: 'rate' as const }, { name: 'grid-sweep' }, { name: 'entropy', kind: 'behaviour' as const }];
const detectorWeights = { volume: { weight: 0.6 }, 'grid-sweep': { weight: 0.9 }, entropy: { weight: 0.5 } };

function settings(fusion: unknown): FusionSettings {
  return { fusion: fusionSchema.parse(fusion), detectors: detectorWeights };
}

describe('sigmoid and logistic', () => {
  it('computes σ(bias + Σ wᵢ·sᵢ) and stays finite for large |z|', () => {
    expect(sigmoid(0)).toBe(0.5);
    expect(sigmoid(2)).toBeCloseTo(1 / (1 + Math.exp(-2)), 15);
    expect(sigmoid(-2) + sigmoid(2)).toBeCloseTo(1, 15);
    expect(sigmoid(-800)).toBe(0);
    expect(sigmoid(800)).toBe(1);
    expect(logit(sigmoid(1.7))).toBeCloseTo(1.7, 12);
    // -3 + 2·0.5 + 4·0.25 = -1
    expect(logistic([0.5, 0.25], [2, 4], -3)).toBeCloseTo(sigmoid(-1), 15);
  });

  it('clamps scores to [0,1] and reads NaN as 0', () => {
    expect(logistic([2, Number.NaN], [1, 5], -1)).toBeCloseTo(sigmoid(0), 15);
    expect(logistic([-1], [3], -1)).toBeCloseTo(sigmoid(-1), 15);
  });
});

describe('createFusion', () => {
  it('noisy-or: 1 − Π(1 − wᵢsᵢ) over behavioural detectors, rate detectors only lift to their own weighted score', () => {
    const f = createFusion(settings({}), detectors);
    expect(f.method).toBe('noisy-or');
    expect([...f.weights]).toEqual([0.6, 0.9, 0.5]);
    expect(f.risk([0, 0.5, 0.4])).toBeCloseTo(1 - (1 - 0.45) * (1 - 0.2), 15);
    expect(f.risk([1, 0, 0])).toBeCloseTo(0.6, 15);
    // volume never compounds: the behavioural risk (0.2) is below volume's 0.6, so the risk is 0.6, not 1 − 0.4·0.8.
    expect(f.risk([1, 0, 0.4])).toBeCloseTo(0.6, 15);
  });

  it('logistic: σ(bias + Σ wᵢsᵢ) with fusion.weights, evidence weights are the coefficients, volume keeps its cap', () => {
    const f = createFusion(settings({ method: 'logistic', bias: -4, weights: { 'grid-sweep': 6, entropy: 2 } }), detectors);
    expect(f.method).toBe('logistic');
    expect([...f.weights]).toEqual([0.6, 6, 2]);
    expect(f.risk([0, 0, 0])).toBeCloseTo(sigmoid(-4), 15);
    expect(f.risk([0, 0.5, 0.5])).toBeCloseTo(sigmoid(-4 + 3 + 1), 15);
    // volume alone: at most its own weighted score …
    expect(f.risk([1, 0, 0])).toBeCloseTo(0.6, 15);
    expect(f.risk([0.5, 0, 0])).toBeCloseTo(0.3, 15);
    // … and it does not add to the log-odds of behavioural evidence.
    expect(f.risk([1, 0.5, 0])).toBeCloseTo(Math.max(0.6, sigmoid(-1)), 15);
    expect(f.risk([1, 1, 1])).toBeCloseTo(sigmoid(4), 15);
  });

  it('is monotone in every score under both methods', () => {
    const fs = [createFusion(settings({}), detectors), createFusion(settings({ method: 'logistic', bias: -3, weights: { 'grid-sweep': 5, entropy: 0 } }), detectors)];
    const grid = [0, 0.2, 0.5, 0.9, 1];
    for (const f of fs) {
      for (const a of grid)
        for (const b of grid)
          for (const c of grid)
            for (let d = 0; d < 3; d++) {
              const up = [a, b, c];
              up[d] = Math.min(1, up[d] + 0.1);
              expect(f.risk(up)).toBeGreaterThanOrEqual(f.risk([a, b, c]));
            }
    }
  });
});
