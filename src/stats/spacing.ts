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
  const clusters: { size: number; sum: number }[] = [];
  let start = x[0];
  let cur = { size: 0, sum: 0 };
  for (let i = 0; i < n; i++) {
    if (x[i] > start * (1 + relTol)) {
      clusters.push(cur);
      cur = { size: 0, sum: 0 };
      start = x[i];
    }
    cur.size++;
    cur.sum += x[i];
  }
  clusters.push(cur);
  clusters.sort((a, b) => b.size - a.size);
  const top = clusters.slice(0, k);
  const held = top.reduce((s, c) => s + c.size, 0);
  return { share: held / n, centres: top.map((c) => c.sum / c.size), n };
}
