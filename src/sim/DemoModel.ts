import { mulberry32 } from '../gateway/RandomProjection.ts';

/**
 * A small fixed classifier for the demo and tests: softmax over a seeded
 * linear map of `dim` features to `classes` classes. Stands in for the model
 * behind a gateway; the quality benchmark uses a trained model instead.
 */
export class DemoModel {
  private readonly w: Float64Array;
  private readonly b: Float64Array;

  constructor(readonly dim = 6, readonly classes = 4, seed = 11) {
    const rand = mulberry32(seed);
    this.w = Float64Array.from({ length: dim * classes }, () => (rand() - 0.5) * 3);
    this.b = Float64Array.from({ length: classes }, () => (rand() - 0.5) * 0.5);
  }

  predict(x: ArrayLike<number>): number[] {
    const z = new Array<number>(this.classes);
    let max = -Infinity;
    for (let c = 0; c < this.classes; c++) {
      let s = this.b[c];
      for (let i = 0; i < this.dim; i++) s += this.w[c * this.dim + i] * x[i];
      z[c] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let c = 0; c < this.classes; c++) sum += z[c] = Math.exp(z[c] - max);
    return z.map((v) => v / sum);
  }
}
