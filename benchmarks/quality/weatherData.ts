import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { LabelledRecord } from './data/LabelledRecord.ts';
import type { TabularData } from './data/TabularData.ts';
import { weatherKernel } from './data/WeatherKernel.ts';

/**
 * The victim's data: daily weather observations for Seattle and New York,
 * 2012–2015 (`weather.csv` shipped by the `vega-datasets` npm package,
 * from NOAA GHCN-Daily). The label is the day's weather type.
 */
export const FEATURES = ['precipitation', 'temp_max', 'temp_min', 'wind', 'day_of_year'] as const;

/** Measurement resolution of each raw feature (mm, °C, °C, m/s, day). */
export const RESOLUTION: readonly number[] = [0.1, 0.1, 0.1, 0.1, 1];

export interface WeatherRecord extends LabelledRecord {
  location: string;
  date: string;
}

/** The weather table as a world's data: home Seattle, foreign New York. */
export interface WeatherData extends TabularData<WeatherRecord> {
  readonly classes: string[];
  readonly seattle: WeatherRecord[];
  readonly newYork: WeatherRecord[];
}

/** Directory of the `vega-datasets` data files. */
export function vegaDataDir(): string {
  const entry = createRequire(import.meta.url).resolve('vega-datasets');
  return join(dirname(entry), '..', 'data');
}

function dayOfYear(date: string): number {
  const [y, m, d] = date.split('-').map(Number);
  return Math.round((Date.UTC(y, m - 1, d) - Date.UTC(y, 0, 1)) / 86_400_000) + 1;
}

/** Parses `weather.csv` (location,date,precipitation,temp_max,temp_min,wind,weather). */
export function parseWeatherCsv(text: string): WeatherData {
  const lines = text.trim().split(/\r?\n/);
  const header = lines[0].split(',');
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`weather.csv: column ${name} missing`);
    return i;
  };
  const [iLoc, iDate, iP, iMax, iMin, iWind, iWeather] = ['location', 'date', 'precipitation', 'temp_max', 'temp_min', 'wind', 'weather'].map(col);
  const rows = lines.slice(1).map((l) => l.split(','));
  const classes = [...new Set(rows.map((r) => r[iWeather]))].sort();
  const seattle: WeatherRecord[] = [];
  const newYork: WeatherRecord[] = [];
  for (const r of rows) {
    const raw = [Number(r[iP]), Number(r[iMax]), Number(r[iMin]), Number(r[iWind]), dayOfYear(r[iDate])];
    if (raw.some((v) => !Number.isFinite(v))) continue;
    const record = { location: r[iLoc], date: r[iDate], raw, label: classes.indexOf(r[iWeather]) };
    if (r[iLoc] === 'Seattle') seattle.push(record);
    else if (r[iLoc] === 'New York') newYork.push(record);
  }
  return {
    name: 'weather',
    description: 'vega-datasets weather.csv (NOAA GHCN-Daily 2012–2015): home Seattle, foreign New York; 5 weather types',
    features: FEATURES,
    resolution: RESOLUTION,
    classes,
    home: seattle,
    foreign: newYork,
    kernel: weatherKernel,
    seattle,
    newYork,
  };
}

export function loadWeatherData(dir = vegaDataDir()): WeatherData {
  return parseWeatherCsv(readFileSync(join(dir, 'weather.csv'), 'utf8'));
}
