/**
 * The effective dimension of a cloud of directions, from their decayed
 * second-moment matrix M = Σ wᵢ uᵢuᵢᵀ: the participation ratio
 * PR = (tr M)² / ‖M‖²_F = (Σλ)² / Σλ², which is k when the directions
 * spread evenly over a k-dimensional subspace and needs no eigensolver
 * (Gao, Trautmann, Yu, Santhanam, Ryu, Shenoy & Ganguli 2017, "A theory of
 * multineuronal dimensionality, dynamics and measurement", bioRxiv 214262).
 */

/** M ← decay·M + u uᵀ for a `d`×`d` row-major M (float32, so replay and restore repeat it bit for bit). */
export function addOuterProduct(m: Float32Array, u: ArrayLike<number>, d: number, decay: number): void {
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
