/** Rounding allowance of the axis bound (a projection gap never exceeds the distance, but its float64 sum may by an ulp). */
const SLACK = 1 + 1e-9;

/** The `k` nearest rows of one query: row indices (nearest first, ties by row index), squared distances, and how many. */
export interface Neighbourhood {
  idx: Int32Array;
  d2: Float64Array;
  count: number;
}

/**
 * Exact nearest-neighbour questions over a model reference's sketch rows:
 * the rows sorted by their projection on the rows' principal axis, scanned
 * outward from the query's projection until the gap along the axis alone
 * exceeds the distance sought (Friedman, Baskett & Shustek, "An Algorithm
 * for Finding Nearest Neighbors", IEEE Trans. Computers C-24(10), 1975: the
 * gap along a unit direction never exceeds the distance). Answers are those
 * of a full scan computing the same float64 sums in row order; the tests
 * compare the two.
 */
export class NeighbourIndex {
  /** Rows in sorted order, `n` × dim (float32 values held as float64). */
  private readonly sorted: Float64Array;
  /** Projection of each sorted row on `axis`. */
  private readonly keys: Float64Array;
  private readonly axis: Float64Array;
  /** Row index of each sorted row. */
  private readonly order: Int32Array;

  /** `rows` holds `n` records of `stride` values, the first `dim` of each the sketch. */
  constructor(
    rows: Float32Array,
    readonly n: number,
    readonly dim: number,
    stride: number,
    /** Per row, the 32-bit owner compared by `nearest`'s `skipOwner` (0: none). */
    private readonly owners: Uint32Array = new Uint32Array(n),
  ) {
    this.axis = principalAxis(rows, n, dim, stride);
    const proj = new Float64Array(n);
    for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) proj[i] += rows[i * stride + j] * this.axis[j];
    this.order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => proj[a] - proj[b] || a - b);
    this.sorted = new Float64Array(n * dim);
    this.keys = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      const i = this.order[r];
      for (let j = 0; j < dim; j++) this.sorted[r * dim + j] = rows[i * stride + j];
      this.keys[r] = proj[i];
    }
  }

  private project(x: ArrayLike<number>, xo: number): number {
    let key = 0;
    for (let j = 0; j < this.dim; j++) key += x[xo + j] * this.axis[j];
    return key;
  }

  private dist2(r: number, x: ArrayLike<number>, xo: number): number {
    const o = r * this.dim;
    let sum = 0;
    for (let j = 0; j < this.dim; j++) {
      const d = this.sorted[o + j] - x[xo + j];
      sum += d * d;
    }
    return sum;
  }

  /**
   * Whether the nearest row to `x` (its `dim` values from `xo`) is farther than `radius`:
   * `sqrt(min squared distance) > radius`, true when there is no row. With `leaveOut`, rows at
   * distance 0 do not count (`x` judged as a member).
   */
  fartherThan(x: ArrayLike<number>, radius: number, leaveOut = false, xo = 0): boolean {
    const n = this.n;
    if (n === 0) return true;
    // A squared distance above `limit` has a square root above `radius`.
    let limit = radius * radius;
    while (!(Math.sqrt(limit) > radius)) limit = limit > 0 ? limit * (1 + Number.EPSILON) : Number.MIN_VALUE;
    const key = this.project(x, xo);
    let up = lowerBound(this.keys, n, key);
    let down = up - 1;
    while (up < n || down >= 0) {
      const gu = up < n ? this.keys[up] - key : Number.POSITIVE_INFINITY;
      const gd = down >= 0 ? key - this.keys[down] : Number.POSITIVE_INFINITY;
      const goUp = gu <= gd;
      const g = goUp ? gu : gd;
      if (g * g > limit * SLACK) return true;
      const r = goUp ? up++ : down--;
      const d = this.dist2(r, x, xo);
      if (Math.sqrt(d) <= radius && !(leaveOut && d === 0)) return false;
    }
    return true;
  }

  /**
   * The `k` rows nearest to `x` with squared distance ≤ `bound2`, skipping rows owned by `skipOwner`
   * (when non-zero), nearest first with ties by row index — the answer of a full scan in row order.
   * Writes into `out` (its arrays at least `k` long) and returns it.
   */
  nearest(x: ArrayLike<number>, k: number, bound2: number, skipOwner: number, out: Neighbourhood, xo = 0): Neighbourhood {
    const n = this.n;
    const { idx, d2 } = out;
    let bound = bound2;
    let found = 0;
    const key = this.project(x, xo);
    let up = lowerBound(this.keys, n, key);
    let down = up - 1;
    for (;;) {
      const gu = up < n ? this.keys[up] - key : -1;
      const gd = down >= 0 ? key - this.keys[down] : -1;
      let r: number;
      if (gu >= 0 && (gd < 0 || gu <= gd)) {
        if (gu * gu > bound * SLACK) {
          up = n;
          continue;
        }
        r = up++;
      } else if (gd >= 0) {
        if (gd * gd > bound * SLACK) {
          down = -1;
          continue;
        }
        r = down--;
      } else break;
      const m = this.order[r];
      if (skipOwner !== 0 && this.owners[m] === skipOwner) continue;
      const sum = this.dist2(r, x, xo);
      if (sum > bound) continue;
      if (found === k && (sum > d2[k - 1] || (sum === d2[k - 1] && m > idx[k - 1]))) continue;
      let p = found < k ? found++ : k - 1;
      while (p > 0 && (d2[p - 1] > sum || (d2[p - 1] === sum && idx[p - 1] > m))) {
        d2[p] = d2[p - 1];
        idx[p] = idx[p - 1];
        p--;
      }
      d2[p] = sum;
      idx[p] = m;
      if (found === k) bound = d2[k - 1];
    }
    out.count = found;
    return out;
  }
}

/** A neighbourhood with room for `k` rows. */
export function createNeighbourhood(k: number): Neighbourhood {
  return { idx: new Int32Array(k), d2: new Float64Array(k), count: 0 };
}

/** The top principal axis of `n` rows (power iteration on their covariance; any unit vector would be exact, this one prunes best). */
function principalAxis(data: Float32Array, n: number, dim: number, stride: number): Float64Array {
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += data[i * stride + j] / n;
  const cov = new Float64Array(dim * dim);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < dim; a++) {
      const da = data[i * stride + a] - mean[a];
      for (let b = 0; b < dim; b++) cov[a * dim + b] += da * (data[i * stride + b] - mean[b]);
    }
  }
  let v = new Float64Array(dim).fill(1 / Math.sqrt(dim));
  for (let it = 0; it < 30; it++) {
    const w = new Float64Array(dim);
    for (let a = 0; a < dim; a++) for (let b = 0; b < dim; b++) w[a] += cov[a * dim + b] * v[b];
    const norm = Math.hypot(...w);
    if (!(norm > 0)) break;
    v = w.map((x) => x / norm);
  }
  return v;
}

/** The first position among the `n` ascending `keys` whose key is ≥ v. */
function lowerBound(keys: Float64Array, n: number, v: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
