import type { LabelledRecord } from './LabelledRecord.ts';
import { gaussianKernel } from './GaussianKernel.ts';
import type { TabularData } from './TabularData.ts';
import { numbers, readVegaJson } from './vegaJson.ts';

/** A penguin's measurements, its island kept for the split. */
export interface PenguinRecord extends LabelledRecord {
  island: string;
}

const COLUMNS = ['Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)', 'Body Mass (g)'] as const;

/** The island held out as foreign data. */
export const PENGUINS_FOREIGN_ISLAND = 'Torgersen';

/**
 * Palmer penguins (`penguins.json` of `vega-datasets`; Gorman, Williams &
 * Fraser 2014): species from four body measurements, 3 classes. Rows with
 * any null field are dropped. Home: the penguins of Biscoe and Dream (all
 * three species live there); foreign: those of Torgersen, another island
 * whose penguins are all Adélie — a thief's own field data from elsewhere,
 * narrower than the model's traffic.
 */
export function loadPenguinsData(rows = readVegaJson('penguins.json')): TabularData<PenguinRecord> {
  const complete = rows.filter((r) => Object.values(r).every((v) => v !== null && v !== undefined));
  const classes = [...new Set(complete.map((r) => String(r.Species)))].sort();
  const home: PenguinRecord[] = [];
  const foreign: PenguinRecord[] = [];
  for (const r of complete) {
    const raw = numbers(r, COLUMNS);
    if (!raw) continue;
    const record = { raw, label: classes.indexOf(String(r.Species)), island: String(r.Island) };
    (record.island === PENGUINS_FOREIGN_ISLAND ? foreign : home).push(record);
  }
  if (home.length === 0 || foreign.length === 0) throw new Error('penguins.json: expected penguins on Torgersen and on the other islands');
  return {
    name: 'penguins',
    description: `vega-datasets penguins.json (Palmer penguins, rows with nulls dropped): species from beak length, beak depth, flipper length, body mass; home Biscoe and Dream (${home.length} penguins), foreign ${PENGUINS_FOREIGN_ISLAND} (${foreign.length}, all Adélie)`,
    features: ['beak_length_mm', 'beak_depth_mm', 'flipper_length_mm', 'body_mass_g'],
    resolution: [0.1, 0.1, 1, 25],
    classes,
    home,
    foreign,
    kernel: gaussianKernel,
  };
}
