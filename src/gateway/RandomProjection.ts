import type { KeyObject } from 'node:crypto';
import { keyedUniforms } from './keyedUniforms.ts';

/** mulberry32: a small seeded PRNG, so every gateway with the same seed projects alike. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The default seed. It is public (in this file), so anyone can rebuild its matrix: see `RandomProjection.keyed`. */
export const PUBLIC_SKETCH_SEED = 0x9e3779b9;

/**
 * A Gaussian random projection of input features to a fixed, small width
 * (Johnson–Lindenstrauss): pairwise distances are kept up to a small factor.
 * Gateways of one deployment draw the same matrix so sketches compare.
 *
 * A sketch hides the features only from readers who cannot rebuild the
 * matrix. With no more features than the width the projection is injective,
 * and whoever knows the seed recovers the features from one sketch by least
 * squares; so gateways use `RandomProjection.keyed` with the deployment's
 * secret key, and the numeric seed serves tests, simulations and benchmarks.
 */
export class RandomProjection {
  private readonly matrix: Float64Array;
  /** The numeric seed, when anyone who knows it can rebuild the matrix; `undefined` for a keyed projection. */
  readonly seed: number | undefined;

  /**
   * `seed` is a public mulberry32 seed, or a source of uniform draws in
   * [0, 1) (two per pair of entries, through Box–Muller).
   */
  constructor(readonly inputDim: number, readonly width = 16, seed: number | (() => number) = PUBLIC_SKETCH_SEED) {
    this.seed = typeof seed === 'number' ? seed : undefined;
    const rand = typeof seed === 'number' ? mulberry32(seed) : seed;
    this.matrix = new Float64Array(inputDim * width);
    const scale = 1 / Math.sqrt(width);
    for (let i = 0; i < this.matrix.length; i += 2) {
      // Box–Muller: two independent standard normals per draw.
      const u = Math.max(rand(), 1e-12);
      const v = rand();
      const r = Math.sqrt(-2 * Math.log(u));
      this.matrix[i] = r * Math.cos(2 * Math.PI * v) * scale;
      if (i + 1 < this.matrix.length) this.matrix[i + 1] = r * Math.sin(2 * Math.PI * v) * scale;
    }
  }

  /**
   * The projection keyed by the deployment's secret (the gateways' HMAC key,
   * `loadHmacKey`): every gateway with the same key, feature count and width
   * draws the same matrix, and readers of the events without the key cannot
   * rebuild it. The entries come from `keyedUniforms`, under a subkey of its
   * own, so the input hashes made with the same key reveal nothing of them.
   */
  static keyed(inputDim: number, width: number, key: KeyObject | Buffer | string): RandomProjection {
    const context = Buffer.alloc(8);
    context.writeUInt32BE(inputDim, 0);
    context.writeUInt32BE(width, 4);
    return new RandomProjection(inputDim, width, keyedUniforms(key, context));
  }

  project(features: ArrayLike<number>): number[] {
    if (features.length !== this.inputDim) {
      throw new RangeError(`expected ${this.inputDim} features, got ${features.length}`);
    }
    const out = new Array<number>(this.width).fill(0);
    for (let i = 0; i < this.inputDim; i++) {
      const x = features[i];
      if (x === 0) continue;
      const row = i * this.width;
      for (let j = 0; j < this.width; j++) out[j] += x * this.matrix[row + j];
    }
    // float32 on the wire: round now so NDJSON and Avro carry the same values.
    return out.map((v) => Math.fround(v));
  }
}
