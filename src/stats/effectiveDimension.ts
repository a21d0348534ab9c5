/**
 * The effective dimension of a cloud of directions, from their decayed
 * second-moment matrix M = Σ wᵢ uᵢuᵢᵀ: the participation ratio
 * PR = (tr M)² / ‖M‖²_F = (Σλ)² / Σλ², which is k when the directions
 * spread evenly over a k-dimensional subspace and needs no eigensolver
 * (Gao, Trautmann, Yu, Santhanam, Ryu, Shenoy & Ganguli 2017, "A theory of
 * multineuronal dimensionality, dynamics and measurement", bioRxiv 214262).
 */

/** M ← decay·M + u uᵀ for a `d`×`d` row-major M (float32 where state keeps it, so replay and restore repeat it bit for bit). */
export function addOuterProduct(m: Float32Array | Float64Array, u: ArrayLike<number>, d: number, decay: number): void {
  for (let i = 0; i < d; i++) {
    const ui = u[i];
    const row = i * d;
    for (let j = 0; j < d; j++) m[row + j] = m[row + j] * decay + ui * u[j];
  }
}

/** (tr M)² / ‖M‖²_F; 0 for an empty M. */
export function participationRatio(m: ArrayLike<number>, d: number): number {
  let tr = 0;
  let fro = 0;
  for (let i = 0; i < d; i++) tr += m[i * d + i];
  for (let k = 0; k < d * d; k++) fro += m[k] * m[k];
  return fro > 0 ? (tr * tr) / fro : 0;
}

/** Where entry (i, j), i ≤ j, of a symmetric `d`×`d` matrix sits in its upper triangle stored row by row. */
export function upperIndex(i: number, j: number, d: number): number {
  return i * d - (i * (i - 1)) / 2 + (j - i);
}

/** `addOuterProduct` on a symmetric M stored as its upper triangle (d(d + 1)/2 float32): every entry as the full matrix gets it. */
export function addOuterProductUpper(t: Float32Array, u: ArrayLike<number>, d: number, decay: number): void {
  let k = 0;
  for (let i = 0; i < d; i++) {
    const ui = u[i];
    for (let j = i; j < d; j++, k++) t[k] = t[k] * decay + ui * u[j];
  }
}

/** `participationRatio` of a symmetric M stored as its upper triangle, summed in the full matrix's order (so it repeats it bit for bit). */
export function participationRatioUpper(t: ArrayLike<number>, d: number): number {
  let tr = 0;
  let fro = 0;
  for (let i = 0; i < d; i++) tr += t[upperIndex(i, i, d)];
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const v = t[i <= j ? upperIndex(i, j, d) : upperIndex(j, i, d)];
      fro += v * v;
    }
  }
  return fro > 0 ? (tr * tr) / fro : 0;
}
