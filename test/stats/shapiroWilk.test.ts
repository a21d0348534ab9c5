import { describe, expect, it } from 'vitest';
import { shapiroWilk } from '../../src/stats/shapiroWilk.ts';
import { FAITHFUL_ERUPTIONS, FAITHFUL_WAITING } from './faithful.fixture.ts';

// R's data sets, as shipped with R (datasets package).
const MTCARS_MPG = [21.0, 21.0, 22.8, 21.4, 18.7, 18.1, 14.3, 24.4, 22.8, 19.2, 17.8, 16.4, 17.3, 15.2, 10.4, 10.4, 14.7, 32.4, 30.4, 33.9, 21.5, 15.5, 15.2, 13.3, 19.2, 27.3, 26.0, 30.4, 15.8, 19.7, 15.0, 21.4];
const MTCARS_HP = [110, 110, 93, 110, 175, 105, 245, 62, 95, 123, 123, 180, 180, 180, 205, 215, 230, 66, 52, 65, 97, 150, 150, 245, 175, 66, 91, 113, 264, 175, 335, 109];
const TOOTHGROWTH_LEN = [
  4.2, 11.5, 7.3, 5.8, 6.4, 10, 11.2, 11.2, 5.2, 7, 16.5, 16.5, 15.2, 17.3, 22.5, 17.3, 13.6, 14.5, 18.8, 15.5, 23.6, 18.5, 33.9, 25.5, 26.4, 32.5, 26.7, 21.5, 23.3, 29.5,
  15.2, 21.5, 17.6, 9.7, 14.5, 10, 8.2, 9.4, 16.5, 9.7, 19.7, 23.3, 23.6, 26.4, 20, 25.2, 25.8, 21.2, 14.5, 27.3, 25.5, 26.4, 22.4, 24.5, 24.8, 30.9, 26.4, 27.3, 29.4, 23,
];
const WOMEN_WEIGHT = [115, 117, 120, 123, 126, 129, 132, 135, 139, 142, 146, 150, 154, 159, 164];
const SLEEP_GROUP1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
const SLEEP_GROUP2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
const SLEEP_DIFF = SLEEP_GROUP2.map((v, i) => Math.round((v - SLEEP_GROUP1[i]) * 10) / 10);

/** Checks a result against R's printed output: W to 5 significant digits, p to 4. */
function expectLikeR(x: number[], w: number, p: number): void {
  const r = shapiroWilk(x);
  expect(r.n).toBe(x.length);
  expect(Number(r.w.toPrecision(5))).toBe(w);
  expect(Number(r.p.toPrecision(4))).toBe(p);
}

describe('shapiroWilk against published R shapiro.test outputs', () => {
  // Each W and p below is R's printed output for `shapiro.test(<data>)`, as
  // reproduced in many independent public R tutorials and notebooks (e.g.
  // STHDA "Normality Test in R" for ToothGrowth$len); none was produced by
  // this code. R prints W to 5 and p to 4 significant digits.
  it('mtcars$mpg (n = 32): W = 0.94756, p = 0.1229', () => expectLikeR(MTCARS_MPG, 0.94756, 0.1229));
  it('mtcars$hp (n = 32): W = 0.93342, p = 0.04881', () => expectLikeR(MTCARS_HP, 0.93342, 0.04881));
  it('ToothGrowth$len (n = 60): W = 0.96743, p = 0.1091', () => expectLikeR(TOOTHGROWTH_LEN, 0.96743, 0.1091));
  it('women$weight (n = 15): W = 0.96036, p = 0.6986', () => expectLikeR(WOMEN_WEIGHT, 0.96036, 0.6986));
  it('faithful$eruptions (n = 272): W = 0.84592, p = 9.036e-16', () => expectLikeR(FAITHFUL_ERUPTIONS, 0.84592, 9.036e-16));
  it('faithful$waiting (n = 272): W = 0.92215, p = 1.015e-10', () => expectLikeR(FAITHFUL_WAITING, 0.92215, 1.015e-10));
  // n ≤ 11 takes Royston's small-sample branch (γ bound and −log(γ − y) transform).
  it('sleep$extra, group 1 (n = 10): W = 0.92581, p = 0.4079', () => expectLikeR(SLEEP_GROUP1, 0.92581, 0.4079));
  it('sleep$extra, group 2 (n = 10): W = 0.9193, p = 0.3511', () => expectLikeR(SLEEP_GROUP2, 0.9193, 0.3511));
  it('sleep differences group 2 − group 1 (n = 10): W = 0.82987, p = 0.03334', () => expectLikeR(SLEEP_DIFF, 0.82987, 0.03334));
  it('mtcars$mpg to EnvStats gofTest precision: W = 0.9475647, p = 0.1228814', () => {
    const r = shapiroWilk(MTCARS_MPG);
    expect(r.w).toBeCloseTo(0.9475647, 7);
    expect(r.p).toBeCloseTo(0.1228814, 7);
  });
});

describe('shapiroWilk at the edges of its range', () => {
  // Values computed on this machine with SciPy 1.17.1 `scipy.stats.shapiro`,
  // an independent implementation of AS R94 (Fortran swilk.f): not published
  // tables, but a second implementation of the same algorithm for the n the
  // published examples above do not cover.
  const scipy: [number[], number, number][] = [
    [[2.5, 1.0, 7.25, 3.0], 0.889775207185702, 0.382065959674679],
    [[1, 2, 3, 4, 8], 0.9030899328570586, 0.42719862850938733],
    [[10, 11, 11.5, 12, 20, 30], 0.7708094358512659, 0.03159655004648683],
    [[3.1, 2.2, 5.9, 4.4, 4.1, 3.8, 2.9], 0.9658484531567716, 0.8670531310654563],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 200], 0.3799697840992895, 2.6158384308013697e-6],
  ];
  it.each(scipy)('n = 4..12 agrees with SciPy swilk: %j', (x, w, p) => {
    const r = shapiroWilk(x);
    // SciPy's Fortran evaluates (i − .375) in single precision, hence 1e-6 and not 1e-12.
    expect(Math.abs(r.w - w)).toBeLessThan(1e-6);
    expect(Math.abs(r.p - p) / p).toBeLessThan(1e-4);
  });

  it('n = 5000 (the largest allowed) agrees with SciPy swilk', () => {
    const x = Array.from({ length: 5000 }, (_, i) => ((i + 1) * 0.6180339887498949) % 1);
    const r = shapiroWilk(x);
    expect(Math.abs(r.w - 0.9548989166284827)).toBeLessThan(1e-6);
    expect(Math.abs(r.p - 9.363454684741487e-37) / 9.363454684741487e-37).toBeLessThan(1e-3);
  });

  it('n = 3 uses the exact distribution: W = 27/28 and p = (6/π)(asin √W − π/3) for (1, 2, 4)', () => {
    // By hand: a = (−1/√2, 0, 1/√2), (a·x)² = 9/2, Σ(x − x̄)² = 42/9, W = 81/84.
    const r = shapiroWilk([4, 1, 2]);
    expect(r.w).toBeCloseTo(81 / 84, 12);
    expect(r.p).toBeCloseTo((6 / Math.PI) * (Math.asin(Math.sqrt(81 / 84)) - Math.PI / 3), 12);
    expect(shapiroWilk([1, 2, 3]).p).toBeCloseTo(1, 12);
  });

  it('is invariant to order, location and scale', () => {
    const base = shapiroWilk(MTCARS_HP);
    const moved = shapiroWilk(MTCARS_HP.map((v) => 1e6 + 0.001 * v).reverse());
    expect(moved.w).toBeCloseTo(base.w, 9);
    expect(moved.p).toBeCloseTo(base.p, 9);
  });

  it('rejects samples it cannot test, saying why', () => {
    expect(() => shapiroWilk([1, 2])).toThrow(/between 3 and 5000/);
    expect(() => shapiroWilk(new Array(5001).fill(0).map((_, i) => i))).toThrow(/between 3 and 5000/);
    expect(() => shapiroWilk([5, 5, 5, 5])).toThrow(/identical/);
    expect(() => shapiroWilk([1, Number.NaN, 3])).toThrow(/finite/);
  });
});
