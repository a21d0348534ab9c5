import type { Rng } from './Rng.ts';
import { RESOLUTION, type WeatherRecord } from './weatherData.ts';

const P = 0;
const TMAX = 1;
const TMIN = 2;
const WIND = 3;
const DOY = 4;

function sd(values: readonly number[]): number {
  const m = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - m) ** 2, 0) / values.length);
}

/** Silverman's rule-of-thumb bandwidth, 1.06·σ·n^(-1/5) (Silverman 1986, eq. 3.28). */
function silverman(values: readonly number[]): number {
  return 1.06 * sd(values) * values.length ** -0.2;
}

/** Rounds raw features to the data set's measurement resolution. */
export function roundRaw(raw: readonly number[]): number[] {
  return raw.map((v, j) => Math.round(v / RESOLUTION[j]) * RESOLUTION[j]);
}

/**
 * Natural inputs beyond the finite table: a smoothed bootstrap (kernel
 * density estimate, Silverman 1986 §6.4) around real records. A real record
 * is drawn, then perturbed with each feature's kernel bandwidth: dry days
 * stay dry and rain is jittered in log space (precipitation is
 * zero-inflated and skewed), both temperatures move together (so max ≥ min
 * holds), and the date moves by about a week. Values are rounded to the
 * resolution the data is measured at, as a real client would send them.
 */
export class NaturalSampler {
  private readonly h: number[];
  private readonly hLogRain: number;

  constructor(readonly records: readonly WeatherRecord[]) {
    if (records.length === 0) throw new RangeError('NaturalSampler needs records');
    this.h = [0, 1, 2, 3].map((j) => silverman(records.map((r) => r.raw[j])));
    const rainy = records.map((r) => r.raw[P]).filter((p) => p > 0);
    this.hLogRain = rainy.length > 1 ? silverman(rainy.map(Math.log)) : 0.3;
  }

  /** An exact real record (rounded), optionally among those `accept` allows. */
  record(rng: Rng, accept?: (r: WeatherRecord) => boolean): WeatherRecord {
    const pool = accept ? this.records.filter(accept) : this.records;
    return rng.pick(pool.length ? pool : this.records);
  }

  /** A new natural input near a real record, as raw features. */
  sample(rng: Rng, accept?: (r: WeatherRecord) => boolean): number[] {
    return this.jitter(this.record(rng, accept).raw, rng);
  }

  jitter(raw: readonly number[], rng: Rng): number[] {
    const out = raw.slice();
    out[P] = raw[P] > 0 ? Math.max(RESOLUTION[P], Math.exp(Math.log(raw[P]) + this.hLogRain * rng.normal())) : 0;
    const shift = this.h[TMAX] * rng.normal();
    out[TMAX] = raw[TMAX] + shift + 0.3 * this.h[TMAX] * rng.normal();
    out[TMIN] = raw[TMIN] + shift + 0.3 * this.h[TMIN] * rng.normal();
    if (out[TMIN] > out[TMAX]) [out[TMIN], out[TMAX]] = [out[TMAX], out[TMIN]];
    out[WIND] = Math.max(RESOLUTION[WIND], raw[WIND] + this.h[WIND] * rng.normal());
    out[DOY] = ((Math.round(raw[DOY] + 7 * rng.normal()) - 1 + 365) % 365) + 1;
    return roundRaw(out);
  }
}

/** Circular distance between two days of the year. */
export function dayDistance(a: number, b: number): number {
  const d = Math.abs(a - b) % 365;
  return Math.min(d, 365 - d);
}
