/**
 * Z-score standardisation fitted on the victim's training rows: the model's
 * own preprocessing, applied by the model server before inference and before
 * the gateway sketches the features.
 */
export class Standardizer {
  constructor(readonly mean: readonly number[], readonly std: readonly number[]) {}

  static fit(rows: readonly (readonly number[])[]): Standardizer {
    const d = rows[0].length;
    const mean = new Array<number>(d).fill(0);
    const std = new Array<number>(d).fill(0);
    for (const r of rows) for (let j = 0; j < d; j++) mean[j] += r[j] / rows.length;
    for (const r of rows) for (let j = 0; j < d; j++) std[j] += (r[j] - mean[j]) ** 2 / rows.length;
    return new Standardizer(mean, std.map((v) => Math.sqrt(v) || 1));
  }

  apply(raw: readonly number[]): number[] {
    return raw.map((v, j) => (v - this.mean[j]) / this.std[j]);
  }

  invert(x: readonly number[]): number[] {
    return x.map((v, j) => v * this.std[j] + this.mean[j]);
  }
}
