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

/**
 * A seeded Gaussian random projection of input features to a fixed, small
 * width (Johnson–Lindenstrauss): pairwise distances are kept up to a small
 * factor, while the features themselves cannot be recovered from a sketch of
 * lower width. Gateways of one deployment share the seed so sketches compare.
 */
export class RandomProjection {
  private readonly matrix: Float64Array;

  constructor(readonly inputDim: number, readonly width = 16, readonly seed = 0x9e3779b9) {
    const rand = mulberry32(seed);
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
