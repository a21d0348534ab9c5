import type { Rng } from '../Rng.ts';
import type { LabelledRecord } from './LabelledRecord.ts';
import { type FittedKernel, type RecordKernel, type RecordSchema, roundTo, silverman } from './RecordKernel.ts';

const P = 0;
const TMAX = 1;
const TMIN = 2;
const WIND = 3;
const DOY = 4;

/** Circular distance between two days of the year. */
export function dayDistance(a: number, b: number): number {
  const d = Math.abs(a - b) % 365;
  return Math.min(d, 365 - d);
}

const season = (doy: number) => ['winter', 'spring', 'summer', 'autumn'][Math.floor(((doy + 31) % 365) / 91.25) % 4];

/**
 * The weather table's kernel (precipitation, temp_max, temp_min, wind,
 * day_of_year): dry days stay dry and rain is jittered in log space
 * (precipitation is zero-inflated and skewed), both temperatures move
 * together (so max ≥ min holds), and the date moves by about a week. A
 * topic is a time of year (records within 20 days of it); a record's
 * group is its weather type × season.
 */
export const weatherKernel: RecordKernel = {
  name: 'weather kernel',
  fit(records: readonly LabelledRecord[], schema: RecordSchema): FittedKernel {
    if (records.length === 0) throw new RangeError('a kernel needs records');
    const resolution = schema.resolution;
    const h = [0, 1, 2, 3].map((j) => silverman(records.map((r) => r.raw[j])));
    const rainy = records.map((r) => r.raw[P]).filter((p) => p > 0);
    const hLogRain = rainy.length > 1 ? silverman(rainy.map(Math.log)) : 0.3;
    return {
      jitter(raw: readonly number[], rng: Rng): number[] {
        const out = raw.slice();
        out[P] = raw[P] > 0 ? Math.max(resolution[P], Math.exp(Math.log(raw[P]) + hLogRain * rng.normal())) : 0;
        const shift = h[TMAX] * rng.normal();
        out[TMAX] = raw[TMAX] + shift + 0.3 * h[TMAX] * rng.normal();
        out[TMIN] = raw[TMIN] + shift + 0.3 * h[TMIN] * rng.normal();
        if (out[TMIN] > out[TMAX]) [out[TMIN], out[TMAX]] = [out[TMAX], out[TMIN]];
        out[WIND] = Math.max(resolution[WIND], raw[WIND] + h[WIND] * rng.normal());
        out[DOY] = ((Math.round(raw[DOY] + 7 * rng.normal()) - 1 + 365) % 365) + 1;
        return roundTo(out, resolution);
      },
      topic(rng: Rng): (r: LabelledRecord) => boolean {
        const day = rng.int(1, 365);
        return (r) => dayDistance(r.raw[DOY], day) <= 20;
      },
      group(r: LabelledRecord): string {
        return `${schema.classes[r.label]}/${season(r.raw[DOY])}`;
      },
    };
  },
};
