import type { VictimWorld } from '../Victim.ts';

/**
 * The input space as a client writes it: raw feature values on each
 * feature's measurement grid, inside the documented ranges. Attacks that
 * step or jitter records work here, so every query they send is a value a
 * real client could send, and only then standardise it as the model server
 * does.
 */
export class RawSpace {
  /** Documented range of each raw feature (the box, in raw units). */
  readonly lo: number[];
  readonly hi: number[];
  /** Measurement resolution of each raw feature. */
  readonly resolution: readonly number[];

  constructor(private readonly world: Pick<VictimWorld, 'box' | 'standardizer' | 'resolution'>) {
    const dims = world.box.lo.length;
    if (world.resolution.length !== dims) throw new RangeError(`RawSpace: world.resolution has ${world.resolution.length} entries for ${dims} features`);
    this.resolution = world.resolution;
    // Ranges are data minima and maxima, so they sit on the grid; rounding keeps that exact.
    this.lo = this.round(world.standardizer.invert(world.box.lo));
    this.hi = this.round(world.standardizer.invert(world.box.hi));
  }

  get dims(): number {
    return this.lo.length;
  }

  /** Width of each feature's documented range. */
  get range(): number[] {
    return this.hi.map((h, j) => h - this.lo[j]);
  }

  /** Rounds each value to its feature's resolution. */
  round(raw: readonly number[]): number[] {
    return raw.map((v, j) => {
      const r = this.resolution[j];
      return r > 0 ? Number((Math.round(v / r) * r).toPrecision(12)) : v;
    });
  }

  /** Onto the grid and into the range. */
  snap(raw: readonly number[]): number[] {
    return this.round(raw).map((v, j) => Math.min(this.hi[j], Math.max(this.lo[j], v)));
  }

  /** The standardised input the model server computes from a raw record, kept inside the box. */
  toModel(raw: readonly number[]): number[] {
    const { lo, hi } = this.world.box;
    return this.world.standardizer.apply(raw).map((v, j) => Math.min(hi[j], Math.max(lo[j], v)));
  }
}
