/** Rows per leaf: below this a scan costs less than descending further (benchmarks/neighbour-index.ts). */
const LEAF_SIZE = 16;

/** The `k` nearest rows of one query: row indices (nearest first, ties by row index), squared distances, and how many. */
export interface Neighbourhood {
  idx: Int32Array;
  d2: Float64Array;
  count: number;
}

/**
 * Exact nearest-neighbour questions over a model reference's sketch rows: a
 * static k-d tree (Bentley, "Multidimensional binary search trees used for
 * associative searching", CACM 18(9), 1975; the search of Friedman, Bentley
 * & Finkel, ACM TOMS 3(3), 1977), split at the median of the widest
 * coordinate, each node keeping the bounding box of its rows. A node is
 * skipped when the squared distance from the query to its box exceeds the
 * distance sought. That bound is summed like a row's distance (float64,
 * coordinate order), term by term no larger, and rounding is monotone, so
 * it never exceeds the distance computed to any row inside: answers are
 * exactly those of a full scan computing the same float64 sums in row
 * order, ties included; the tests compare the two.
 */
export class NeighbourIndex {
  /** Row values in leaf order, `n` × dim (float32 values held as float64). */
  private readonly points: Float64Array;
  /** Row index and owner of each point. */
  private readonly order: Int32Array;
  private readonly owner: Uint32Array;
  /** Per node: the bounding box (`dim` lows, `dim` highs), the range of points, the children (−1: a leaf). */
  private readonly lo: Float64Array;
  private readonly hi: Float64Array;
  private readonly first: Int32Array;
  private readonly last: Int32Array;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private nodes = 0;
  // The query in hand (fields, not closure variables: the search recurses once per node), copied into one
  // Float64Array whatever array it came in, so that the distance loops read one kind of array.
  private readonly q: Float64Array;
  private bound = 0;
  // `anyWithin`'s question (fields too: numbers passed down the recursion would be boxed at every call).
  private limit = 0;
  private radius = 0;
  private leaveOut = false;
  /** A leaf's squared distances to the query in hand (`leafDistances8`). */
  private readonly sums: Float64Array;

  /** `rows` holds `n` records of `stride` values, the first `dim` of each the sketch. */
  constructor(
    rows: Float32Array,
    readonly n: number,
    readonly dim: number,
    stride: number,
    /** Per row, the 32-bit owner compared by `nearest`'s `skipOwner` (0: none). */
    owners: Uint32Array = new Uint32Array(n),
  ) {
    // Median splits leave at least LEAF_SIZE / 2 rows in a leaf: at most 2n / LEAF_SIZE leaves, twice that of nodes.
    const maxNodes = Math.max(1, 2 * Math.ceil((2 * n) / LEAF_SIZE));
    this.lo = new Float64Array(maxNodes * dim);
    this.hi = new Float64Array(maxNodes * dim);
    this.first = new Int32Array(maxNodes);
    this.last = new Int32Array(maxNodes);
    this.left = new Int32Array(maxNodes);
    this.right = new Int32Array(maxNodes);
    this.q = new Float64Array(dim);
    this.sums = new Float64Array(LEAF_SIZE);
    const order = Int32Array.from({ length: n }, (_, i) => i);
    if (n > 0) this.build(rows, stride, order, 0, n);
    this.order = order;
    this.points = new Float64Array(n * dim);
    this.owner = new Uint32Array(n);
    for (let p = 0; p < n; p++) {
      const i = order[p];
      for (let j = 0; j < dim; j++) this.points[p * dim + j] = rows[i * stride + j];
      this.owner[p] = owners[i];
    }
  }

  /** Builds the node over points `[from, to)` of `order` (reordering them) and returns its number. */
  private build(rows: Float32Array, stride: number, order: Int32Array, from: number, to: number): number {
    const dim = this.dim;
    const node = this.nodes++;
    const o = node * dim;
    this.lo.fill(Number.POSITIVE_INFINITY, o, o + dim);
    this.hi.fill(Number.NEGATIVE_INFINITY, o, o + dim);
    for (let p = from; p < to; p++) {
      const r = order[p] * stride;
      for (let j = 0; j < dim; j++) {
        const v = rows[r + j];
        if (v < this.lo[o + j]) this.lo[o + j] = v;
        if (v > this.hi[o + j]) this.hi[o + j] = v;
      }
    }
    this.first[node] = from;
    this.last[node] = to;
    this.left[node] = -1;
    this.right[node] = -1;
    if (to - from <= LEAF_SIZE) return node;
    let axis = 0;
    for (let j = 1; j < dim; j++) if (this.hi[o + j] - this.lo[o + j] > this.hi[o + axis] - this.lo[o + axis]) axis = j;
    order.subarray(from, to).sort((a, b) => rows[a * stride + axis] - rows[b * stride + axis] || a - b);
    const mid = (from + to) >> 1;
    this.left[node] = this.build(rows, stride, order, from, mid);
    this.right[node] = this.build(rows, stride, order, mid, to);
    return node;
  }

  /** Takes `x`'s `dim` values from `xo` as the query in hand. */
  private hold(x: ArrayLike<number>, xo: number): void {
    for (let j = 0; j < this.dim; j++) this.q[j] = x[xo + j];
  }

  /** Squared distance from the query in hand to a node's box, summed as `dist2` sums (never more than a row inside gets). */
  private boxDist2(node: number): number {
    const dim = this.dim;
    const o = node * dim;
    const x = this.q;
    let sum = 0;
    for (let j = 0; j < dim; j++) {
      const v = x[j];
      const l = this.lo[o + j];
      if (v < l) {
        const d = l - v;
        sum += d * d;
      } else {
        const h = this.hi[o + j];
        if (v > h) {
          const d = v - h;
          sum += d * d;
        }
      }
    }
    return sum;
  }

  /**
   * Squared distance from the query in hand to point `p`, or any value above `cut` once the partial sum
   * passes it (partial sums only grow, rounding being monotone, so the full sum would pass it too).
   */
  private dist2(p: number, cut: number): number {
    const dim = this.dim;
    const o = p * dim;
    const x = this.q;
    let sum = 0;
    for (let j = 0; j < dim; j++) {
      const d = this.points[o + j] - x[j];
      sum += d * d;
      if (sum > cut) return sum;
    }
    return sum;
  }

  /**
   * Full squared distances from the query in hand to each point of leaf `node`, into `sums`, at the default
   * sketch width (8): the query held in locals, the same sums as `dist2`'s term by term. `dist2` may stop
   * early at a cut; `visit` only compares the result with that cut, which the full sum passes too.
   */
  private leafDistances8(node: number): void {
    const x = this.q;
    const q0 = x[0];
    const q1 = x[1];
    const q2 = x[2];
    const q3 = x[3];
    const q4 = x[4];
    const q5 = x[5];
    const q6 = x[6];
    const q7 = x[7];
    const points = this.points;
    const sums = this.sums;
    const first = this.first[node];
    const last = this.last[node];
    for (let p = first; p < last; p++) {
      const o = p * 8;
      const d0 = points[o] - q0;
      const d1 = points[o + 1] - q1;
      const d2 = points[o + 2] - q2;
      const d3 = points[o + 3] - q3;
      const d4 = points[o + 4] - q4;
      const d5 = points[o + 5] - q5;
      const d6 = points[o + 6] - q6;
      const d7 = points[o + 7] - q7;
      sums[p - first] = d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3 + d4 * d4 + d5 * d5 + d6 * d6 + d7 * d7;
    }
  }

  /**
   * Whether the nearest row to `x` (its `dim` values from `xo`) is farther than `radius`:
   * `sqrt(min squared distance) > radius`, true when there is no row. With `leaveOut`, rows at
   * distance 0 do not count (`x` judged as a member).
   */
  fartherThan(x: ArrayLike<number>, radius: number, leaveOut = false, xo = 0): boolean {
    if (this.n === 0 || Number.isNaN(radius)) return true;
    // A squared distance of at least `limit` has a square root above `radius`.
    let limit = radius === Number.POSITIVE_INFINITY ? radius : radius * radius;
    // Step up by at least one ulp (a relative step alone stalls on subnormals).
    while (!(Math.sqrt(limit) > radius) && limit < Number.POSITIVE_INFINITY) limit += Math.max(limit * Number.EPSILON, Number.MIN_VALUE);
    this.hold(x, xo);
    this.limit = limit;
    this.radius = radius;
    this.leaveOut = leaveOut;
    return !this.anyWithin(0);
  }

  private anyWithin(node: number): boolean {
    const limit = this.limit;
    if (this.boxDist2(node) >= limit) return false;
    const a = this.left[node];
    if (a >= 0) return this.anyWithin(a) || this.anyWithin(this.right[node]);
    const radius = this.radius;
    const leaveOut = this.leaveOut;
    for (let p = this.first[node]; p < this.last[node]; p++) {
      const d = this.dist2(p, limit);
      if (Math.sqrt(d) <= radius && !(leaveOut && d === 0)) return true;
    }
    return false;
  }

  /**
   * The `k` rows nearest to `x` with squared distance ≤ `bound2`, skipping rows owned by `skipOwner`
   * (when non-zero), nearest first with ties by row index — the answer of a full scan in row order.
   * Writes into `out` (its arrays at least `k` long) and returns it.
   */
  nearest(x: ArrayLike<number>, k: number, bound2: number, skipOwner: number, out: Neighbourhood, xo = 0): Neighbourhood {
    out.count = 0;
    if (this.n === 0 || k <= 0 || Number.isNaN(bound2)) return out;
    this.hold(x, xo);
    this.bound = bound2;
    if (!(this.boxDist2(0) > this.bound)) this.visit(0, k, skipOwner, out);
    return out;
  }

  /**
   * Collects into `out` from a node whose box lies within the distance sought; nearer child first, each
   * visited while its box still does (the distance sought shrinks as rows are found). The boxes' distances
   * are compared here rather than passed down: a number passed to a call that is not inlined is boxed.
   */
  private visit(node: number, k: number, skipOwner: number, out: Neighbourhood): void {
    const a = this.left[node];
    if (a >= 0) {
      const b = this.right[node];
      const da = this.boxDist2(a);
      const db = this.boxDist2(b);
      const aFirst = da <= db;
      if (!((aFirst ? da : db) > this.bound)) this.visit(aFirst ? a : b, k, skipOwner, out);
      if (!((aFirst ? db : da) > this.bound)) this.visit(aFirst ? b : a, k, skipOwner, out);
      return;
    }
    const wide = this.dim === 8;
    if (wide) this.leafDistances8(node);
    const { idx, d2 } = out;
    const sums = this.sums;
    const first = this.first[node];
    for (let p = first; p < this.last[node]; p++) {
      if (skipOwner !== 0 && this.owner[p] === skipOwner) continue;
      const sum = wide ? sums[p - first] : this.dist2(p, this.bound);
      if (sum > this.bound) continue;
      const m = this.order[p];
      const found = out.count;
      if (found === k && sum === d2[k - 1] && m > idx[k - 1]) continue;
      let q = found < k ? out.count++ : k - 1;
      while (q > 0 && (d2[q - 1] > sum || (d2[q - 1] === sum && idx[q - 1] > m))) {
        d2[q] = d2[q - 1];
        idx[q] = idx[q - 1];
        q--;
      }
      d2[q] = sum;
      idx[q] = m;
      if (out.count === k) this.bound = d2[k - 1];
    }
  }
}

/** A neighbourhood with room for `k` rows. */
export function createNeighbourhood(k: number): Neighbourhood {
  return { idx: new Int32Array(k), d2: new Float64Array(k), count: 0 };
}
