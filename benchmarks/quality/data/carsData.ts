import type { LabelledRecord } from './LabelledRecord.ts';
import { gaussianKernel } from './GaussianKernel.ts';
import type { TabularData } from './TabularData.ts';
import { numbers, readVegaJson } from './vegaJson.ts';

/** A car's specification, its model year kept for the split. */
export interface CarRecord extends LabelledRecord {
  year: number;
}

const COLUMNS = ['Miles_per_Gallon', 'Cylinders', 'Displacement', 'Horsepower', 'Weight_in_lbs', 'Acceleration'] as const;

/** Model years from this one on are the foreign data. */
export const CARS_FOREIGN_FROM_YEAR = 1980;

/**
 * Auto MPG (`cars.json` of `vega-datasets`, from the UCI repository): a
 * car's origin (Europe, Japan, USA — imbalanced, USA about 60%) from six
 * specifications; the model year is not a feature. Rows with any null
 * field are dropped. Home: model years 1970–1979; foreign: 1980–1982,
 * after the fuel crises, when cars of every origin got lighter and more
 * economical — a later market, the same schema.
 */
export function loadCarsData(rows = readVegaJson('cars.json')): TabularData<CarRecord> {
  const complete = rows.filter((r) => Object.values(r).every((v) => v !== null && v !== undefined));
  const classes = [...new Set(complete.map((r) => String(r.Origin)))].sort();
  const home: CarRecord[] = [];
  const foreign: CarRecord[] = [];
  for (const r of complete) {
    const raw = numbers(r, COLUMNS);
    const year = Number(String(r.Year).slice(0, 4));
    if (!raw || !Number.isInteger(year)) continue;
    const record = { raw, label: classes.indexOf(String(r.Origin)), year };
    (year >= CARS_FOREIGN_FROM_YEAR ? foreign : home).push(record);
  }
  if (home.length === 0 || foreign.length === 0) throw new Error(`cars.json: expected cars before and from ${CARS_FOREIGN_FROM_YEAR}`);
  return {
    name: 'cars',
    description: `vega-datasets cars.json (Auto MPG, rows with nulls dropped): origin from mpg, cylinders, displacement, horsepower, weight, acceleration; home model years 1970–${CARS_FOREIGN_FROM_YEAR - 1} (${home.length} cars), foreign ${CARS_FOREIGN_FROM_YEAR}–1982 (${foreign.length})`,
    features: ['mpg', 'cylinders', 'displacement', 'horsepower', 'weight_lbs', 'acceleration'],
    resolution: [0.1, 1, 0.1, 1, 1, 0.1],
    classes,
    home,
    foreign,
    kernel: gaussianKernel,
  };
}
