import { describe, expect, it } from 'vitest';
import { createFusion, type FusionSettings } from '../../src/fusion/createFusion.ts';
import { fusionSchema } from '../../src/fusion/fusionSchema.ts';
import { logistic, logit, sigmoid } from '../../src/fusion/logistic.ts';

const detectors = [{ name: 'volume', kind: 'rate' as const }, { name: 'grid-sweep', family: 'geometry' as const }, { name: 'entropy', kind: 'behaviour' as const, family: 'output' as const }];
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
    // Two families below support: count-once would hold their uncorroborated 0.56 below throttle (see below).
    const f = createFusion(settings({ countOnce: { holdBelow: 'truncate' } }), detectors);
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

describe('counting each fact once (fusion.countOnce)', () => {
  const policy = { thresholds: { observe: 0.3, throttle: 0.5, truncate: 0.7 } };
  const family = [
    { name: 'volume', kind: 'rate' as const },
    { name: 'off-manifold', family: 'geometry' as const, signature: true },
    { name: 'boundary-probing', family: 'output' as const },
    { name: 'entropy', family: 'output' as const },
    { name: 'output-drift', family: 'output' as const },
    { name: 'aggregates', family: 'cross-key' as const },
  ];
  const weights = Object.fromEntries(family.map((d) => [d.name, { weight: 1 }]));
  const fusion = (countOnce: object = {}) => createFusion({ fusion: fusionSchema.parse({ countOnce }), detectors: weights, policy }, family);

  it('lets only the strongest member of a family speak', () => {
    // Three output detectors restating one fact: noisy-OR over detectors would give 1 − 0.4³ = 0.936.
    const f = fusion({ holdBelow: 'truncate' });
    expect(f.risk([0, 0, 0.6, 0.6, 0.6, 0])).toBeCloseTo(0.6, 12);
    expect(fusion().assess([0, 0, 0.6, 0.6, 0.6, 0]).marked).toBeCloseTo(0.6, 12);
    expect(fusion({ enabled: false }).risk([0, 0, 0.6, 0.6, 0.6, 0])).toBeCloseTo(1 - 0.4 ** 3, 12);
  });

  it('holds one family without a signature below throttle (enforced) and below truncate (marked), and says so', () => {
    const a = fusion().assess([0, 0, 0, 0, 0.95, 0]);
    expect(a.risk).toBeLessThan(0.5);
    expect(a.risk).toBeGreaterThan(0.49);
    expect(a.marked).toBeLessThan(0.7);
    expect(a.marked).toBeGreaterThan(0.69);
    expect(a.capped).toBe(true);
    expect(a.heldBelow).toBe('throttle');
    expect(a.supporting).toEqual(['output']);
    // Below the hold nothing is held: an observe-level risk is reported as it is.
    const low = fusion().assess([0, 0, 0, 0, 0.4, 0]);
    expect(low.risk).toBeCloseTo(0.4, 12);
    expect(low.capped).toBe(false);
    // Two families each below support are not corroboration either.
    const two = fusion().assess([0, 0.3, 0, 0, 0.4, 0], [0, 0, 0, 0, 0, 0]);
    expect(two.risk).toBeLessThan(0.5);
    expect(two.marked).toBeCloseTo(1 - 0.7 * 0.6, 12);
    // holdBelow: truncate keeps the older rule: one family may throttle, never truncate.
    const old = fusion({ holdBelow: 'truncate' }).assess([0, 0, 0, 0, 0.95, 0]);
    expect(old.risk).toBeGreaterThan(0.69);
    expect(old.risk).toBeLessThan(0.7);
    expect(old.marked).toBe(old.risk);
    expect(old.heldBelow).toBe('truncate');
  });

  it('holds only output and group evidence below throttle: one family of input geometry still throttles', () => {
    const f = fusion();
    const family = [
      { name: 'grid-sweep', family: 'geometry' as const },
      { name: 'entropy', family: 'output' as const },
    ];
    const g = createFusion({ fusion: fusionSchema.parse({}), detectors: { 'grid-sweep': { weight: 1 }, entropy: { weight: 1 } }, policy }, family);
    // geometry alone, no signature: enforced as it is, below truncate
    const geometry = g.assess([0.6, 0]);
    expect(geometry.risk).toBeCloseTo(0.6, 12);
    expect(geometry.capped).toBe(false);
    expect(g.assess([0.95, 0]).risk).toBeCloseTo(0.6999, 12);
    expect(g.assess([0.95, 0]).heldBelow).toBe('truncate');
    // geometry below support with output: the combination is marked, what geometry gives alone is enforced
    const both = g.assess([0.45, 0.45]);
    expect(both.marked).toBeCloseTo(1 - 0.55 * 0.55, 12);
    expect(both.risk).toBeCloseTo(0.4999, 12);
    const stronger = g.assess([0.55, 0.45]);
    expect(stronger.risk).toBeCloseTo(0.55, 12);
    // 1 − 0.45 · 0.55 = 0.75, held below truncate where it is marked
    expect(stronger.marked).toBeCloseTo(0.6999, 12);
    // holdFamilies naming geometry too holds every family below throttle
    const all = createFusion({ fusion: fusionSchema.parse({ countOnce: { holdFamilies: ['geometry', 'output', 'cross-key'] } }), detectors: { 'grid-sweep': { weight: 1 }, entropy: { weight: 1 } }, policy }, family);
    expect(all.assess([0.6, 0]).risk).toBeCloseTo(0.4999, 12);
    // the six-detector fusion above: a group score with own output evidence is held too
    expect(f.assess([0, 0, 0.35, 0, 0, 0.9]).risk).toBeLessThan(0.5);
  });

  it('lets rate evidence alone still throttle, uncorroborated behaviour notwithstanding', () => {
    const f = fusion();
    // volume at 0.6 lifts to 0.6 ≥ throttle; the output family's 0.95 stays held.
    const a = f.assess([0.6, 0, 0, 0, 0.95, 0]);
    expect(a.risk).toBeCloseTo(0.6, 12);
    expect(a.capped).toBe(true);
  });

  it('lets a signature or two independent families reach truncate', () => {
    const f = fusion();
    // a geometry signature alone
    expect(f.risk([0, 0.9, 0, 0, 0, 0])).toBeCloseTo(0.9, 12);
    // two families at support
    expect(f.risk([0, 0.5, 0, 0, 0.6, 0], [0, 0.2, 0, 0, 0, 0])).toBeCloseTo(1 - 0.5 * 0.4, 12);
    // a per-event signature part below support does not count as one
    expect(f.assess([0, 0, 0.95, 0, 0, 0], [0, 0, 0.3, 0, 0, 0]).capped).toBe(true);
    expect(f.assess([0, 0, 0.95, 0, 0, 0], [0, 0, 0.8, 0, 0, 0]).capped).toBe(false);
  });

  it('applies group evidence to a member only with evidence of its own', () => {
    const f = fusion();
    const alone = f.assess([0, 0, 0, 0, 0.1, 0.9]);
    expect(alone.risk).toBeCloseTo(0.1, 12);
    expect(alone.groupWithheld).toBe(true);
    // With evidence of its own the group's score counts, but it is not the member's second family: still below truncate…
    const own = f.assess([0, 0, 0.55, 0, 0, 0.9]);
    expect(own.groupWithheld).toBe(false);
    expect(own.capped).toBe(true);
    expect(own.marked).toBeGreaterThan(0.69);
    expect(own.risk).toBeLessThan(0.5);
    // …unless a signature of its own lets it through, or groupCorroborates is set.
    expect(f.risk([0, 0.55, 0.55, 0, 0, 0.9])).toBeCloseTo(1 - 0.45 * 0.45 * 0.1, 12);
    expect(fusion({ groupCorroborates: true }).risk([0, 0, 0.55, 0, 0, 0.9])).toBeCloseTo(1 - 0.45 * 0.1, 12);
  });

  it('still lets volume lift the risk to its own score and never compound', () => {
    const f = fusion();
    expect(f.risk([0.45, 0, 0, 0, 0.3, 0])).toBeCloseTo(0.45, 12);
  });

  it('is monotone in every score and every signature', () => {
    const f = fusion();
    const grid = [0, 0.35, 0.6, 0.95];
    const base = [0, 0, 0, 0, 0, 0];
    for (let trial = 0; trial < 400; trial++) {
      const s = base.map((_, i) => grid[(trial * (i + 3) * 7 + i) % grid.length]);
      const sig = s.map((x, i) => (i === 2 ? x * ((trial % 3) / 2) : 0));
      const r = f.risk(s, sig);
      for (let d = 0; d < s.length; d++) {
        const up = [...s];
        up[d] = Math.min(1, up[d] + 0.3);
        expect(f.risk(up, sig)).toBeGreaterThanOrEqual(r - 1e-12);
      }
      const upSig = [...sig];
      upSig[2] = s[2];
      expect(f.risk(s, upSig)).toBeGreaterThanOrEqual(r - 1e-12);
    }
  });
});
