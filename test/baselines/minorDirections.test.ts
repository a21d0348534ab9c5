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

/** The gate's default share of a tail, for keys, networks and tenants alike. */
const SHARES: TailShares = { key: 0.5, network: 0.5, tenant: 0.5 };

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

  it('reads the tail with each key, network and tenant holding at most its share: one probing key cannot set it', () => {
    // Key 7 fed 30 members far out along the minor direction: one and a half times the top 5% of 400.
    const far = () => [3 * gauss(), 2 * gauss(), 1 + gauss() * 0.1, 0];
    const poisoned = [...rows.slice(0, 370), ...Array.from({ length: 30 }, far)];
    const owned = ownedBy(400, (i) => (i >= 370 ? 7 : 10 + (i % 50)));
    const capped = minorDirections(poisoned.length, 4, (i, j) => poisoned[i][j], owned, 0.9, SHARES)!;
    const uncapped = minorDirections(poisoned.length, 4, (i, j) => poisoned[i][j], owned, 0.9, null)!;
    const natural = poisoned.slice(0, 370).map((r) => uncapped.energy(r));
    // Without caps another key's threshold sits among the probes; with them, key 7 holds half of the tail
    // and natural members the rest, so the threshold falls among the natural members' own top few percent.
    expect(uncapped.quantileWithout(0.95, 10)).toBeGreaterThan(3 * plainQuantile(natural, 0.99));
    const threshold = capped.quantileWithout(0.95, 10);
    expect(threshold).toBeGreaterThan(plainQuantile(natural, 0.95));
    expect(threshold).toBeLessThan(plainQuantile(natural, 0.99));
    // Three keys behind one network are capped as that network.
    const split = ownedBy(400, (i) => (i >= 370 ? 7 + (i % 3) : 10 + (i % 50)));
    const oneNetwork: MemberOwners = { ...split, network: split.network.map((h, i) => (i >= 370 ? 99 : h)) };
    const byNetwork = minorDirections(poisoned.length, 4, (i, j) => poisoned[i][j], oneNetwork, 0.9, { key: 1, network: 0.5, tenant: 1 })!;
    expect(byNetwork.quantileWithout(0.95, 10)).toBeCloseTo(threshold, 12);
    const byKeys = minorDirections(poisoned.length, 4, (i, j) => poisoned[i][j], split, 0.9, SHARES)!;
    expect(byKeys.quantileWithout(0.95, 10)).toBeGreaterThan(3 * plainQuantile(natural, 0.99));
  });

  it('keeps a capped owner’s excess in the traffic: the tail is still a share of every member', () => {
    // Key 7 holds 200 of 400 members, all of ordinary energy: capping it must not shrink the sample the
    // tail is a share of, which would pull the threshold down into the body of the traffic.
    const owned = ownedBy(400, (i) => (i < 200 ? 7 : 10 + (i % 50)));
    const capped = minorDirections(rows.length, 4, (i, j) => rows[i][j], owned, 0.9, SHARES)!;
    const uncapped = minorDirections(rows.length, 4, (i, j) => rows[i][j], owned, 0.9, null)!;
    const plain = uncapped.quantile(0.95);
    expect(capped.quantile(0.95)).toBeGreaterThanOrEqual(plain * 0.9);
    expect(capped.quantile(0.95)).toBeLessThan(plainQuantile(uncapped.sorted, 0.995));
  });

  it('has no threshold when too few owners feed the reference to fill the tail', () => {
    // The top 5% of 400 needs 21 counted members; two keys may count 10 each, three may count 30.
    const two = minorDirections(rows.length, 4, (i, j) => rows[i][j], ownedBy(400, (i) => 1 + (i % 2)), 0.9, SHARES)!;
    expect(two.quantile(0.95)).toBeNaN();
    const three = minorDirections(rows.length, 4, (i, j) => rows[i][j], ownedBy(400, (i) => 1 + (i % 3)), 0.9, SHARES)!;
    expect(three.quantile(0.95)).toBeGreaterThan(0);
    expect(three.quantileWithout(0.95, 1)).toBeNaN();
  });

  it('leaves a tail spread over many owners as it is', () => {
    // Every member its own key, network and tenant, or 50 keys of 8 members each: no cap binds.
    const alone = minorDirections(rows.length, 4, (i, j) => rows[i][j], ownedBy(400, (i) => i + 1), 0.9, SHARES)!;
    for (const q of [0.9, 0.95, 0.99]) {
      expect(alone.quantile(q)).toBeCloseTo(plainQuantile(alone.sorted, q), 12);
      expect(minor.quantile(q)).toBeCloseTo(plainQuantile(minor.sorted, q), 12);
    }
  });

  it('has no minor directions with too few members or when the span takes everything', () => {
    expect(minorDirections(4, 4, (i, j) => rows[i][j], owners, 0.9, SHARES)).toBeNull();
    const line = Array.from({ length: 50 }, () => [gauss(), 0, 0, 0]);
    expect(minorDirections(50, 4, (i, j) => line[i][j], ownedBy(50, () => 1), 0.9, SHARES)).toBeNull();
  });
});
