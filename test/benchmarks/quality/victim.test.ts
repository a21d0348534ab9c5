import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildVictimWorld } from '../../../benchmarks/quality/Victim.ts';
import { loadWeatherData } from '../../../benchmarks/quality/weatherData.ts';

describe('victim model', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  const data = loadWeatherData();

  it('beats always answering its most frequent class, and is reproducible from the seed', () => {
    const a = buildVictimWorld(data, { seed: 11, hidden: [16], passes: 10_000 });
    const b = buildVictimWorld(data, { seed: 11, hidden: [16], passes: 10_000 });
    const c = buildVictimWorld(data, { seed: 12, hidden: [16], passes: 10_000 });
    expect(a.accuracy).toBeGreaterThan(a.majorityAgreement + 0.1);
    expect(b.testVictimProbs).toEqual(a.testVictimProbs);
    expect(c.testVictimProbs).not.toEqual(a.testVictimProbs);
    for (const p of a.testVictimProbs) expect(p.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 4);
  });

  it('keeps train, attacker seed and test disjoint, and the thief data from the other city', () => {
    const w = buildVictimWorld(data, { seed: 4, hidden: [8], passes: 2_000 });
    const ids = (rs: { date: string; location: string }[]) => new Set(rs.map((r) => `${r.location}/${r.date}`));
    const train = ids(w.train);
    for (const r of [...w.test, ...w.attackerSeed]) expect(train.has(`${r.location}/${r.date}`)).toBe(false);
    for (const r of w.test) expect(ids(w.attackerSeed).has(`${r.location}/${r.date}`)).toBe(false);
    expect(w.train.length + w.attackerSeed.length + w.test.length).toBe(data.seattle.length);
    expect(w.thief.every((r) => r.location === 'New York')).toBe(true);
    for (let j = 0; j < w.box.lo.length; j++) expect(w.box.lo[j]).toBeLessThan(w.box.hi[j]);
  });
});
