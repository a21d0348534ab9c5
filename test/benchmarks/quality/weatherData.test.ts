import { describe, expect, it } from 'vitest';
import { NaturalSampler, dayDistance } from '../../../benchmarks/quality/NaturalSampler.ts';
import { Rng } from '../../../benchmarks/quality/Rng.ts';
import { Standardizer } from '../../../benchmarks/quality/Standardizer.ts';
import { FEATURES, loadWeatherData, parseWeatherCsv } from '../../../benchmarks/quality/weatherData.ts';

describe('weather data (vega-datasets weather.csv)', () => {
  const data = loadWeatherData();

  it('loads both cities with five weather classes and finite features', () => {
    expect(data.classes).toEqual(['drizzle', 'fog', 'rain', 'snow', 'sun']);
    expect(data.seattle.length).toBeGreaterThan(1400);
    expect(data.newYork.length).toBeGreaterThan(1400);
    for (const r of [...data.seattle, ...data.newYork]) {
      expect(r.raw).toHaveLength(FEATURES.length);
      expect(r.raw.every(Number.isFinite)).toBe(true);
      expect(r.label).toBeGreaterThanOrEqual(0);
      expect(r.raw[4]).toBeGreaterThanOrEqual(1);
      expect(r.raw[4]).toBeLessThanOrEqual(366);
    }
    const labels = new Set(data.seattle.map((r) => r.label));
    expect(labels.size).toBe(5);
  });

  it('derives the day of year from the date', () => {
    const d = parseWeatherCsv('location,date,precipitation,temp_max,temp_min,wind,weather\nSeattle,2012-02-01,1.5,10,2,3.1,rain\n');
    expect(d.seattle[0].raw).toEqual([1.5, 10, 2, 3.1, 32]);
  });

  it('standardises to zero mean and unit variance and inverts exactly', () => {
    const s = Standardizer.fit(data.seattle.map((r) => r.raw));
    const z = data.seattle.map((r) => s.apply(r.raw));
    for (let j = 0; j < FEATURES.length; j++) {
      const m = z.reduce((a, r) => a + r[j], 0) / z.length;
      const v = z.reduce((a, r) => a + (r[j] - m) ** 2, 0) / z.length;
      expect(m).toBeCloseTo(0, 6);
      expect(v).toBeCloseTo(1, 6);
    }
    expect(s.invert(z[7]).map((v) => Number(v.toFixed(6)))).toEqual(data.seattle[7].raw);
  });

  it('samples natural inputs near real records: dry stays dry, max ≥ min, rounded, seasonal filter honoured', () => {
    const sampler = new NaturalSampler(data.seattle, data);
    const rng = new Rng(5);
    for (let i = 0; i < 500; i++) {
      const r = sampler.record(rng);
      const x = sampler.jitter(r.raw, rng);
      if (r.raw[0] === 0) expect(x[0]).toBe(0);
      else expect(x[0]).toBeGreaterThan(0);
      expect(x[1]).toBeGreaterThanOrEqual(x[2]);
      expect(x[3]).toBeGreaterThan(0);
      expect(Math.abs(x[1] * 10 - Math.round(x[1] * 10))).toBeLessThan(1e-6);
      expect(dayDistance(x[4], r.raw[4])).toBeLessThan(40);
    }
    const summer = sampler.record(rng, (r) => dayDistance(r.raw[4], 200) <= 20);
    expect(dayDistance(summer.raw[4], 200)).toBeLessThanOrEqual(20);
  });

  it('is reproducible from a seed', () => {
    const sampler = new NaturalSampler(data.seattle, data);
    const draw = (seed: number) => Array.from({ length: 20 }, (_, i) => sampler.sample(new Rng(seed).fork(`x${i}`)));
    expect(draw(9)).toEqual(draw(9));
    expect(draw(9)).not.toEqual(draw(10));
  });
});
