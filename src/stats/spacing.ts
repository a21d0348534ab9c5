/**
 * How few distinct sizes a set of positive lengths takes (the step sizes
 * between a key's successive queries): the test behind "lattice spacing".
 */

export interface DominantLengths {
  /** Share of the lengths that fall in the `k` most populated clusters. */
  share: number;
  /** Mean length of each of those clusters, most populated first. */
  centres: number[];
  /** Lengths considered (positive and finite). */
  n: number;
}

function positiveSorted(values: ArrayLike<number>, count: number): Float64Array {
  const out = new Float64Array(count);
  let n = 0;
  for (let i = 0; i < count; i++) {
    const v = values[i];
    if (v > 0 && Number.isFinite(v)) out[n++] = v;
  }
  return out.subarray(0, n).sort();
}

/**
 * Clusters lengths on a relative scale — sorted, a cluster runs while a value
 * stays within `relTol` of the cluster's smallest — and reports how much of
 * the sample the `k` largest clusters hold. A lattice walk has a handful of
 * step sizes (the grid spacings and the wrap-around jumps), so a few clusters
 * hold nearly everything; continuous data spreads over many.
 */
export function dominantLengths(values: ArrayLike<number>, count: number, relTol: number, k: number): DominantLengths {
  const x = positiveSorted(values, count);
  const n = x.length;
  if (n === 0) return { share: 0, centres: [], n: 0 };
  // Clusters in scratch columns (at most one per value): size, sum of lengths, whether already taken.
  if (sizes.length < n) {
    sizes = new Float64Array(n);
    sums = new Float64Array(n);
    taken = new Uint8Array(n);
  }
  let m = 0;
  let start = x[0];
  sizes[0] = 0;
  sums[0] = 0;
  for (let i = 0; i < n; i++) {
    if (x[i] > start * (1 + relTol)) {
      m++;
      sizes[m] = 0;
      sums[m] = 0;
      start = x[i];
    }
    sizes[m]++;
    sums[m] += x[i];
  }
  m++;
  taken.fill(0, 0, m);
  // The k most populated, ties in the order the clusters were found (a stable sort by size, descending).
  const centres: number[] = [];
  let held = 0;
  for (let t = 0; t < Math.min(k, m); t++) {
    let best = -1;
    for (let j = 0; j < m; j++) if (!taken[j] && (best < 0 || sizes[j] > sizes[best])) best = j;
    taken[best] = 1;
    held += sizes[best];
    centres.push(sums[best] / sizes[best]);
  }
  return { share: held / n, centres, n };
}

let sizes = new Float64Array(0);
let sums = new Float64Array(0);
let taken = new Uint8Array(0);
