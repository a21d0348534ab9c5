import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { vegaDataDir } from '../weatherData.ts';

/** Reads one JSON array of objects shipped by the `vega-datasets` npm package. */
export function readVegaJson(file: string, dir = vegaDataDir()): Record<string, unknown>[] {
  const rows: unknown = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  if (!Array.isArray(rows)) throw new Error(`${file}: expected a JSON array of rows`);
  return rows as Record<string, unknown>[];
}

/** The row's numeric fields in `columns` order, or undefined when one is null or not a finite number. */
export function numbers(row: Record<string, unknown>, columns: readonly string[]): number[] | undefined {
  const out: number[] = [];
  for (const c of columns) {
    const v = row[c];
    if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
    out.push(v);
  }
  return out;
}
