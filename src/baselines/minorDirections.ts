import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/**
 * The directions in which a model's traffic varies least, from the
 * covariance of its reference members' sketches: principal component
 * analysis, with the components that carry the first `span` of the variance
 * taken as the traffic's span and the remaining ones (those with any
 * variance: a projection of fewer raw features than sketch coordinates
 * leaves exact null directions, which no input can reach) as its minor
 * directions. A query's energy is its squared distance from the members'
 * mean along the minor directions, each whitened by its variance, averaged
 * over them: Hotelling's T² restricted to the residual subspace (Jackson &
 * Mudholkar, "Control Procedures for Residuals Associated With Principal
 * Component Analysis", Technometrics 21(3), 1979). Natural queries come out
 * near 1; a step of fixed size in every raw feature (Jacobian augmentation,
 * random probing) adds the same variance along every direction, which is
 * many times the traffic's own along its minor ones.
 *
 * The threshold is a quantile of the members' own energies: calibrated
 * against the deployment's traffic, not against a χ² that mixtures of
 * clusters do not follow. A tail quantile is read from a few members (the
 * top 5% of 512 is 26), which the gate's caps on the members do not
 * protect: one key may hold a twentieth of them, so a key whose probing
 * slipped in before it was flagged could own the whole tail and raise every
 * key's threshold. So the tail is read with each key, network and tenant
 * holding at most its share of it: members past an owner's share are
 * passed over but stay in the count the tail is a share of. The shares are
 * loose (the gate's `tailShare`, a half by default) because honest keys of
 * unusual habits, a batch scorer of a wide sample say, legitimately hold a
 * good part of a tail; what they forbid is one owner setting it alone.
 */
export interface MinorDirections {
  /** Sketch coordinates a query needs (the members' width). */
  readonly width: number;
  /** Minor directions (0: the members vary in too few directions for any). */
  readonly count: number;
  /** Directions in which the members vary at all (the rest are null). */
  readonly rank: number;
  /** Share of the members' variance along the minor directions. */
  readonly share: number;
  /** The members' energies, ascending. */
  readonly sorted: Float64Array;
  /** The query's energy (NaN when its sketch is too short or not finite). */
  energy(sketch: ArrayLike<number>): number;
  /**
   * The `q` quantile of the members' own energies, each owner holding at most its share of the tail above
   * it; NaN when too few owners feed the members to fill that tail.
   */
  quantile(q: number): number;
  /**
   * The same quantile of the members not fed by `owner` (a `referenceHash` of a key; 0: all members): a
   * key's own queries that slipped into the reference before it was flagged must not raise the threshold
   * it is judged by.
   */
  quantileWithout(q: number, owner: number): number;
  /** The energy of the difference of two sketches (`width` values of each, from `ao` and `bo`): how far apart they lie along the minor directions. */
  apart(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number): number;
}

/** Below this share of the total variance a direction counts as null (float32 rounding of an exact projection). */
const NULL_SHARE = 1e-6;

/** Who fed each member: `referenceHash`es of its key, network and tenant (0: none), in member order. */
export interface MemberOwners {
  readonly key: Uint32Array;
  readonly network: Uint32Array;
  readonly tenant: Uint32Array;
}

/**
 * The most of a quantile's tail one key, network and tenant may hold, as shares of it (at least one member
 * each); null: no cap. A tail the owners under their shares cannot fill gives no threshold (NaN).
 */
export interface TailShares {
  readonly key: number;
  readonly network: number;
  readonly tenant: number;
}

/**
 * The minor directions of `n` members' first `width` coordinates (`at(i, j)`: member i's coordinate j);
 * null when there are fewer than width + 1 members or no minor direction.
 */
export function minorDirections(
  n: number,
  width: number,
  at: (i: number, j: number) => number,
  owners: MemberOwners,
  span: number,
  tailShares: TailShares | null,
): MinorDirections | null {
  if (n <= width || width < 2) return null;
  const mean = new Float64Array(width);
  for (let i = 0; i < n; i++) for (let j = 0; j < width; j++) mean[j] += at(i, j);
  for (let j = 0; j < width; j++) mean[j] /= n;
  const cov = Matrix.zeros(width, width);
  const centred = new Float64Array(width);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < width; j++) centred[j] = at(i, j) - mean[j];
    for (let a = 0; a < width; a++) for (let b = a; b < width; b++) cov.set(a, b, cov.get(a, b) + centred[a] * centred[b]);
  }
  for (let a = 0; a < width; a++) {
    for (let b = a; b < width; b++) {
      const v = cov.get(a, b) / (n - 1);
      cov.set(a, b, v);
      cov.set(b, a, v);
    }
  }
  const eig = new EigenvalueDecomposition(cov, { assumeSymmetric: true });
  const values = eig.realEigenvalues; // ascending
  const vectors = eig.eigenvectorMatrix;
  let total = 0;
  for (const v of values) total += Math.max(0, v);
  if (!(total > 0)) return null;
  // Walk from the largest: the components before the running sum reaches `span` of the total are the span.
  const minor: number[] = [];
  let covered = 0;
  let rank = 0;
  for (let k = width - 1; k >= 0; k--) {
    const v = Math.max(0, values[k]);
    if (v > NULL_SHARE * total) {
      rank++;
      if (covered >= span * total) minor.push(k);
    }
    covered += v;
  }
  if (minor.length === 0) return null;
  const m = minor.length;
  const whiten = new Float64Array(m * width);
  let minorVariance = 0;
  minor.forEach((k, r) => {
    const s = 1 / Math.sqrt(values[k]);
    minorVariance += values[k];
    for (let j = 0; j < width; j++) whiten[r * width + j] = vectors.get(j, k) * s;
  });
  // Centred coordinates of the member or query being measured.
  const x = new Float64Array(width);
  const energyOfX = (): number => {
    let e = 0;
    for (let r = 0, o = 0; r < m; r++, o += width) {
      let p = 0;
      for (let j = 0; j < width; j++) p += x[j] * whiten[o + j];
      e += p * p;
    }
    return e / m;
  };
  const energies = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < width; j++) x[j] = at(i, j) - mean[j];
    energies[i] = energyOfX();
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => energies[a] - energies[b] || a - b);
  const sorted = Float64Array.from(order, (i) => energies[i]);
  const byRank = (of: Uint32Array) => Uint32Array.from(order, (i) => of[i]);
  const keys = byRank(owners.key);
  const networks = byRank(owners.network);
  const tenants = byRank(owners.tenant);
  const between = (values: ArrayLike<number>, count: number, q: number): number => {
    const pos = q * (count - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(count - 1, lo + 1);
    return values[lo] + (values[hi] - values[lo]) * (pos - lo);
  };
  const known = new Map<string, number>();
  /**
   * The `q` quantile of the energies of members not fed by `without` (0: none left out), with each owner
   * holding at most its cap of the members above it. Walking down from the top, a member counts toward the
   * tail only while its key, network and tenant are under their caps; members past a cap are passed over
   * but stay in the traffic (the count the tail is a share of), so a capped owner's excess neither raises
   * the threshold nor shrinks the sample below it. NaN when the owners under their caps cannot fill the
   * tail: too few of them feed the reference to tell the traffic's tail from one owner's habits.
   */
  const cappedQuantile = (q: number, without: number): number => {
    const rest: number[] = [];
    for (let r = 0; r < n; r++) if (without === 0 || keys[r] !== without) rest.push(r);
    if (rest.length === 0) return without === 0 ? Number.NaN : cappedQuantile(q, 0);
    const count = rest.length;
    if (!tailShares) return between(Float64Array.from(rest, (r) => sorted[r]), count, q);
    // Members above the quantile, as `between` places it: the threshold lies between the counted members
    // `floor(above)` and `ceil(above)` from the top.
    const above = (1 - q) * (count - 1);
    const cap = (share: number) => Math.max(1, Math.floor(share * (1 - q) * count));
    const caps = [cap(tailShares.key), cap(tailShares.network), cap(tailShares.tenant)];
    const held = [new Map<number, number>(), new Map<number, number>(), new Map<number, number>()];
    const counted: number[] = [];
    for (let t = count - 1; t >= 0 && counted.length <= Math.ceil(above); t--) {
      const r = rest[t];
      const who = [keys[r], networks[r], tenants[r]];
      if (who.some((h, c) => h !== 0 && (held[c].get(h) ?? 0) >= caps[c])) continue;
      who.forEach((h, c) => h !== 0 && held[c].set(h, (held[c].get(h) ?? 0) + 1));
      counted.push(sorted[r]);
    }
    if (counted.length <= Math.ceil(above)) return Number.NaN;
    const lo = counted[Math.ceil(above)];
    return lo + (counted[Math.floor(above)] - lo) * (Math.ceil(above) - above);
  };
  const quantileOf = (q: number, without: number): number => {
    const memo = `${q} ${without}`;
    let t = known.get(memo);
    if (t === undefined) known.set(memo, (t = cappedQuantile(q, without)));
    return t;
  };
  return {
    width,
    count: m,
    rank,
    share: minorVariance / total,
    sorted,
    energy(sketch) {
      if (sketch.length < width) return Number.NaN;
      for (let j = 0; j < width; j++) {
        const v = sketch[j];
        if (!Number.isFinite(v)) return Number.NaN;
        x[j] = Math.fround(v) - mean[j];
      }
      return energyOfX();
    },
    apart(a, ao, b, bo) {
      for (let j = 0; j < width; j++) x[j] = a[ao + j] - b[bo + j];
      return energyOfX();
    },
    quantile(q) {
      return quantileOf(q, 0);
    },
    quantileWithout(q, owner) {
      return quantileOf(q, owner);
    },
  };
}
