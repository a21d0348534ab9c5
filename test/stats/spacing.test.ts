import { describe, expect, it } from 'vitest';
import { addOuterProduct, participationRatio } from '../../src/stats/effectiveDimension.ts';
import { dominantLengths } from '../../src/stats/spacing.ts';
import { mulberry32 } from '../../src/gateway/RandomProjection.ts';

describe('dominantLengths', () => {
  it('finds the few sizes of a lattice walk and the many of continuous lengths', () => {
    // 7 steps of 0.5 then one wrap of 3.0, eight times over, with float32 noise.
    const lattice = Array.from({ length: 64 }, (_, i) => (i % 8 === 7 ? 3 : 0.5) * (1 + 1e-7 * (i % 3)));
    const lat = dominantLengths(lattice, lattice.length, 0.02, 3);
    expect(lat.share).toBe(1);
    expect(lat.centres.map((c) => Number(c.toFixed(3)))).toEqual([0.5, 3]);
    const rand = mulberry32(4);
    const smooth = Array.from({ length: 128 }, () => 1 + 4 * rand());
    expect(dominantLengths(smooth, smooth.length, 0.02, 3).share).toBeLessThan(0.2);
    expect(dominantLengths([0, -1, Number.NaN], 3, 0.02, 3)).toEqual({ share: 0, centres: [], n: 0 });
  });
});

describe('participationRatio', () => {
  it('is k for directions spread evenly over k dimensions', () => {
    const d = 6;
    const m = new Float32Array(d * d);
    // Unit vectors along the first three axes, equally often.
    for (let i = 0; i < 30; i++) addOuterProduct(m, [0, 1, 2, 3, 4, 5].map((j) => (j === i % 3 ? 1 : 0)), d, 0.99);
    expect(participationRatio(m, d)).toBeCloseTo(3, 1);
    // A single direction, whatever its orientation, is one dimension.
    const one = new Float32Array(d * d);
    for (let i = 0; i < 10; i++) addOuterProduct(one, [0.6, 0, 0.8, 0, 0, 0].map((v) => (i % 2 ? -v : v)), d, 1);
    expect(participationRatio(one, d)).toBeCloseTo(1, 5);
    expect(participationRatio(new Float32Array(d * d), d)).toBe(0);
  });
});
