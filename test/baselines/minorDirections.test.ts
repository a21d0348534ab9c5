import { describe, expect, it } from 'vitest';
import { type MemberOwners, minorDirections, type TailShares } from '../../src/baselines/minorDirections.ts';
import { mulberry32 } from '../../src/gateway/RandomProjection.ts';

const rand = mulberry32(3);
const gauss = () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());

/** `n` members in 4 coordinates with standard deviations 3, 2, 0.1 and exactly 0. */
function members(n: number): number[][] {
  return Array.from({ length: n }, () => [3 * gauss(), 2 * gauss(), 0.1 * gauss(), 0]);
}

/** Member i fed by `key(i)`, each key from its own network and tenant. */
function ownedBy(n: number, key: (i: number) => number): MemberOwners {
  const keys = Uint32Array.from({ length: n }, (_, i) => key(i));
  return { key: keys, network: keys.map((k) => k + 1000), tenant: keys.map((k) => k + 2000) };
}

/** The gate's default shares. */
const SHARES: TailShares = { key: 0.05, network: 0.1, tenant: 0.25 };

/** The `q` quantile of `values` (linear between order statistics). */
function plainQuantile(values: ArrayLike<number>, q: number): number {
  const v = Float64Array.from(values).sort();
  const pos = q * (v.length - 1);
  const lo = Math.floor(pos);
  return v[lo] + (v[Math.min(v.length - 1, lo + 1)] - v[lo]) * (pos - lo);
}

describe('minorDirections', () => {
  const rows = members(400);
  const owners = ownedBy(400, (i) => 1 + (i % 50));
  const minor = minorDirections(rows.length, 4, (i, j) => rows[i][j], owners, 0.9, SHARES)!;

  it('takes the directions past the first 90% of the variance, leaving out the null one', () => {
    expect(minor.rank).toBe(3);
    expect(minor.count).toBe(1);
    expect(minor.share).toBeGreaterThan(0.0003);
    expect(minor.share).toBeLessThan(0.002);
  });

  it('whitens: the members average an energy of about 1, a step along the minor direction is many times that, one along the span or the null direction is not', () => {
    const mean = minor.sorted.reduce((a, b) => a + b, 0) / minor.sorted.length;
    expect(mean).toBeCloseTo(1, 1);
    expect(minor.energy([0, 0, 1, 0])).toBeGreaterThan(50);
    expect(minor.energy([3, -2, 0, 0])).toBeLessThan(1);
    expect(minor.energy([0, 0, 0, 5])).toBeLessThan(1);
    expect(minor.apart([0, 0, 0.5, 0], 0, [0, 0, -0.5, 0], 0)).toBeGreaterThan(50);
    expect(minor.energy([0, 0, 1])).toBeNaN();
    expect(minor.energy([0, 0, Number.NaN, 0])).toBeNaN();
  });

  it('sets a key’s threshold without the members it fed', () => {
    // 20 members of one key (5%) far out along the minor direction own the top of the energies.
    const poisoned = [...rows.slice(0, 380), ...Array.from({ length: 20 }, () => [3 * gauss(), 2 * gauss(), 1 + gauss() * 0.1, 0])];
    const m = minorDirections(poisoned.length, 4, (i, j) => poisoned[i][j], ownedBy(400, (i) => (i >= 380 ? 7 : 1 + (i % 50))), 0.9, null)!;
    expect(m.quantileWithout(0.99, 7)).toBeLessThan(m.quantile(0.99) / 2);
    expect(m.quantileWithout(0.99, 0)).toBe(m.quantile(0.99));
    expect(m.quantileWithout(0.99, 12345)).toBe(m.quantile(0.99));
  });

  it('reads the tail with each key, network and tenant holding at most its share: a few probing keys cannot own the top percent', () => {
    // Three keys (keys 7, 8, 9; within the gate's 5% each) fed 4 members each far out along the minor direction:
    // three times the top percent.
    const far = () => [3 * gauss(), 2 * gauss(), 1 + gauss() * 0.1, 0];
    const poisoned = [...rows.slice(0, 388), ...Array.from({ length: 12 }, far)];
    const owned = ownedBy(400, (i) => (i >= 388 ? 7 + ((i - 388) % 3) : 10 + (i % 50)));
    const capped = minorDirections(poisoned.length, 4, (i, j) => poisoned[i][j], owned, 0.9, SHARES)!;
    const uncapped = minorDirections(poisoned.length, 4, (i, j) => poisoned[i][j], owned, 0.9, null)!;
    // Without caps another key's threshold sits among the probes; with them, among natural members.
    const natural = plainQuantile(poisoned.slice(0, 388).map((r) => uncapped.energy(r)), 0.99);
    expect(uncapped.quantileWithout(0.99, 7)).toBeGreaterThan(3 * natural);
    expect(capped.quantileWithout(0.99, 7)).toBeLessThan(1.5 * natural);
    // One network behind the three keys is capped the same way.
    const oneNetwork: MemberOwners = { ...owned, network: owned.network.map((h, i) => (i >= 388 ? 99 : h)) };
    const byNetwork = minorDirections(poisoned.length, 4, (i, j) => poisoned[i][j], oneNetwork, 0.9, { key: 1, network: 0.1, tenant: 1 })!;
    expect(byNetwork.quantileWithout(0.99, 7)).toBeLessThan(1.5 * natural);
  });

  it('leaves a tail spread over many owners as it is', () => {
    // Every member its own key, network and tenant: no cap binds.
    const alone = minorDirections(rows.length, 4, (i, j) => rows[i][j], ownedBy(400, (i) => i + 1), 0.9, SHARES)!;
    expect(alone.quantile(0.99)).toBeCloseTo(plainQuantile(alone.sorted, 0.99), 12);
  });

  it('has no minor directions with too few members or when the span takes everything', () => {
    expect(minorDirections(4, 4, (i, j) => rows[i][j], owners, 0.9, SHARES)).toBeNull();
    const line = Array.from({ length: 50 }, () => [gauss(), 0, 0, 0]);
    expect(minorDirections(50, 4, (i, j) => line[i][j], ownedBy(50, () => 1), 0.9, SHARES)).toBeNull();
  });
});
