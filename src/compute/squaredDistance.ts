/** Squared L2 distance between the `dim`-long rows of `a` at `ao` and of `b` at `bo`, summed in float64. */
export function squaredDistance(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) {
    const d = a[ao + j] - b[bo + j];
    s += d * d;
  }
  return s;
}

/**
 * `squaredDistance` from the `dim`-long row of `x` at `xo` to each of rows `[from, to)` of `rows` (rows
 * `stride` values apart, the first `dim` of each), into `out` from `at`: the same sums, term by term in
 * coordinate order. At the default sketch width (8) the row of `x` is held in locals instead of read again
 * for every row, which takes about two thirds of the time off a scan.
 */
export function squaredDistancesTo(x: ArrayLike<number>, xo: number, rows: Float32Array, from: number, to: number, stride: number, dim: number, out: Float64Array, at: number): void {
  if (dim !== 8) {
    for (let r = from; r < to; r++) out[at + r - from] = squaredDistance(x, xo, rows, r * stride, dim);
    return;
  }
  const x0 = x[xo];
  const x1 = x[xo + 1];
  const x2 = x[xo + 2];
  const x3 = x[xo + 3];
  const x4 = x[xo + 4];
  const x5 = x[xo + 5];
  const x6 = x[xo + 6];
  const x7 = x[xo + 7];
  let k = at;
  for (let o = from * stride; o < to * stride; o += stride) {
    const d0 = x0 - rows[o];
    const d1 = x1 - rows[o + 1];
    const d2 = x2 - rows[o + 2];
    const d3 = x3 - rows[o + 3];
    const d4 = x4 - rows[o + 4];
    const d5 = x5 - rows[o + 5];
    const d6 = x6 - rows[o + 6];
    const d7 = x7 - rows[o + 7];
    out[k++] = d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3 + d4 * d4 + d5 * d5 + d6 * d6 + d7 * d7;
  }
}
