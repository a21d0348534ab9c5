import { describe, expect, it } from 'vitest';
import { CARS_FOREIGN_FROM_YEAR, loadCarsData } from '../../../benchmarks/quality/data/carsData.ts';
import { gaussianKernel } from '../../../benchmarks/quality/data/GaussianKernel.ts';
import { loadPenguinsData, PENGUINS_FOREIGN_ISLAND } from '../../../benchmarks/quality/data/penguinsData.ts';
import { NaturalSampler } from '../../../benchmarks/quality/NaturalSampler.ts';
import { Rng } from '../../../benchmarks/quality/Rng.ts';

describe('real tables of vega-datasets beside weather', () => {
  it('penguins: species from four measurements, Torgersen held out, rows with nulls dropped', () => {
    const p = loadPenguinsData();
    expect(p.classes).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
    expect(p.features).toHaveLength(4);
    expect(new Set(p.home.map((r) => r.label)).size).toBe(3);
    expect(p.home.every((r) => r.island !== PENGUINS_FOREIGN_ISLAND)).toBe(true);
    expect(p.foreign.every((r) => r.island === PENGUINS_FOREIGN_ISLAND)).toBe(true);
    expect(p.home.length + p.foreign.length).toBeLessThan(344);
    for (const r of [...p.home, ...p.foreign]) expect(r.raw.every(Number.isFinite)).toBe(true);
  });

  it('penguins: a row with a null field is dropped', () => {
    const row = (island: string, sex: string | null) => ({ Species: 'Adelie', Island: island, 'Beak Length (mm)': 39.1, 'Beak Depth (mm)': 18.7, 'Flipper Length (mm)': 181, 'Body Mass (g)': 3750, Sex: sex });
    const p = loadPenguinsData([row('Biscoe', 'MALE'), row('Biscoe', null), row('Torgersen', 'FEMALE')]);
    expect(p.home).toHaveLength(1);
    expect(p.foreign).toHaveLength(1);
  });

  it('cars: origin from six specifications, imbalanced, later model years held out', () => {
    const c = loadCarsData();
    expect(c.classes).toEqual(['Europe', 'Japan', 'USA']);
    expect(c.features).toHaveLength(6);
    expect(c.home.every((r) => r.year < CARS_FOREIGN_FROM_YEAR)).toBe(true);
    expect(c.foreign.every((r) => r.year >= CARS_FOREIGN_FROM_YEAR)).toBe(true);
    const usa = c.home.filter((r) => c.classes[r.label] === 'USA').length / c.home.length;
    expect(usa).toBeGreaterThan(0.5);
    expect(c.home.length + c.foreign.length).toBeLessThan(406);
  });

  it('a table without its foreign part is refused with the reason', () => {
    expect(() => loadCarsData([{ Name: 'a', Miles_per_Gallon: 18, Cylinders: 8, Displacement: 307, Horsepower: 130, Weight_in_lbs: 3504, Acceleration: 12, Year: '1970-01-01', Origin: 'USA' }])).toThrow(/expected cars before and from 1980/);
  });

  it('the generic kernel jitters continuous features within their range at their resolution, keeps discrete ones, and draws topics as neighbourhoods', () => {
    const c = loadCarsData();
    const sampler = new NaturalSampler(c.home, c);
    const rng = new Rng(7);
    const lo = c.features.map((_, j) => Math.min(...c.home.map((r) => r.raw[j])));
    const hi = c.features.map((_, j) => Math.max(...c.home.map((r) => r.raw[j])));
    let moved = 0;
    for (let i = 0; i < 300; i++) {
      const r = sampler.record(rng);
      const x = sampler.jitter(r.raw, rng);
      expect(x[1]).toBe(r.raw[1]); // cylinders: five distinct values, kept
      x.forEach((v, j) => {
        expect(v).toBeGreaterThanOrEqual(lo[j] - 1e-9);
        expect(v).toBeLessThanOrEqual(hi[j] + 1e-9);
        expect(Math.abs(v / c.resolution[j] - Math.round(v / c.resolution[j]))).toBeLessThan(1e-6);
      });
      if (x[4] !== r.raw[4]) moved++;
    }
    expect(moved).toBeGreaterThan(250);
    const topic = sampler.topic(rng);
    const members = c.home.filter(topic);
    expect(members.length).toBeGreaterThanOrEqual(Math.round(0.1 * c.home.length));
    expect(members.length).toBeLessThan(0.2 * c.home.length);
    expect(gaussianKernel.fit(c.home, c).group(c.home[0])).toBe(c.classes[c.home[0].label]);
  });
});
