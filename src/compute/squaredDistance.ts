/** Squared L2 distance between the `dim`-long rows of `a` at `ao` and of `b` at `bo`, summed in float64. */
export function squaredDistance(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) {
    const d = a[ao + j] - b[bo + j];
    s += d * d;
  }
  return s;
}
