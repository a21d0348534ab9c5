import { describe, expect, it } from 'vitest';
import { neverCaughtAgreementLine, responsesBarLine, responsesMatrix, surrogateMatrix } from '../../../benchmarks/quality/report/surrogateTables.ts';
import type { PopulationDetection, WorldDetection } from '../../../benchmarks/quality/worlds/detectWorld.ts';

const reach = (keys: number, of: number, median: number) => ({ keys, of, median });

function attack(population: string, barCalls: number, agreement?: number, of = 1): PopulationDetection {
  const caught = Number.isFinite(barCalls) ? of : 0;
  return { population, kind: 'attack', throttle: reach(caught, of, barCalls), truncate: reach(caught, of, barCalls), barCalls, calls: 1000, maxRisk: 0.5, ...(agreement === undefined ? {} : { agreement }) };
}

function world(name: string, populations: PopulationDetection[], chanceFloor?: number): WorldDetection {
  return {
    name,
    seed: 7,
    description: name,
    victim: 'softmax',
    accuracy: 0.9,
    events: 0,
    keys: 0,
    seconds: { build: 0, simulate: 0, replay: 0, cpu: 0 },
    replay: { events: 0, keys: 0, seconds: 0, mismatches: [], mismatched: 0 },
    populations,
    ...(chanceFloor === undefined ? {} : { surrogates: { chanceFloor, seconds: 1 } }),
    honestMargin: { risk: { value: 0, population: '—' }, signature: { value: 0, detector: '—', population: '—' } },
  };
}

describe('stolen copies per world', () => {
  const worlds = [
    world('penguins', [attack('Knockoff Nets', Infinity, 0.972), attack('Sybil', 40, 0.9, 3)], 0.408),
    world('cars', [attack('Knockoff Nets', 120, 0.8), { ...attack('interactive users', Infinity), kind: 'benign' }], 0.62),
  ];

  it('puts agreement beside calls to ≥ truncate, bolds never-caught cells and leads with the chance floors', () => {
    const lines = surrogateMatrix(worlds).split('\n');
    expect(lines[0]).toBe('| attack | penguins#7 | cars#7 |');
    expect(lines[2]).toBe('| chance floor | 40.8% | 62.0% |');
    expect(lines[3]).toBe('| Knockoff Nets | **97.2% · never** | 80.0% · 120 |');
    expect(lines[4]).toBe('| Sybil | 90.0% · 40 (3/3 keys) | — |');
    expect(lines).toHaveLength(5);
  });

  it('lists only attacks never at ≥ truncate, each against its own world\'s floor', () => {
    expect(neverCaughtAgreementLine(worlds)).toBe('NEVER AT ≥ TRUNCATE — surrogate agreement vs the world\'s chance floor: Knockoff Nets in penguins#7 97.2% vs floor 40.8% (+56.4 pts).');
    expect(neverCaughtAgreementLine([world('w', [attack('a', Infinity)])])).toBe('NEVER AT ≥ TRUNCATE — surrogate agreement vs the world\'s chance floor: a in w#7 n/a vs floor n/a.');
    expect(neverCaughtAgreementLine([worlds[1]])).toMatch(/: none\.$/);
  });
});

describe('stolen copies under the default responses', () => {
  const guarded = (p: PopulationDetection, agreement: number | undefined, calls = 1000, refused = 0, altered = 0): PopulationDetection => ({
    ...p,
    responses: { calls, refused, altered, ...(agreement === undefined ? {} : { agreement }) },
  });
  const benign = (refused: number, altered: number): PopulationDetection => guarded({ ...attack('interactive users', Infinity), kind: 'benign' }, undefined, 500, refused, altered);
  const worlds = [
    world(
      'weather',
      [
        guarded(attack('Tramèr', 16, 0.9), 0.3), // cut 60 points: met
        guarded(attack('office-hours thief', 32, 0.9), 0.75), // cut 15 points, above the floor: short
        guarded(attack('lattice sweep', 70, 0.6), 0.5), // cut 10 points, at the floor: met (no usable copy)
        guarded(attack('Knockoff Nets', Infinity, 0.9), 0.9), // never caught: not judged
        benign(3, 1),
      ],
      0.5,
    ),
    world('cars', [guarded(attack('Tramèr', 16, 0.8), 0.7), benign(0, 0)], 0.6),
  ];

  it('shows each campaign unprotected → under responses with the cut, bolding caught campaigns short of the bar', () => {
    const lines = responsesMatrix(worlds).split('\n');
    expect(lines[0]).toBe('| attack | weather#7 | cars#7 |');
    expect(lines[2]).toBe('| chance floor | 50.0% | 60.0% |');
    expect(lines[3]).toBe('| Tramèr | 90.0% → 30.0% (−60.0 pts) | **80.0% → 70.0% (−10.0 pts)** |');
    expect(lines[4]).toBe('| office-hours thief | **90.0% → 75.0% (−15.0 pts)** | — |');
    expect(lines[5]).toBe('| lattice sweep | 60.0% → 50.0% (−10.0 pts) | — |');
    expect(lines[6]).toBe('| Knockoff Nets | 90.0% → 90.0% (+0.0 pts), not caught | — |');
  });

  it('judges only caught campaigns, counts a copy left at the floor as cut, and sums what honest populations paid', () => {
    expect(responsesBarLine(worlds)).toBe(
      'RESPONSES (SDK defaults) — caught campaigns cut by ≥ 40 points or left at or below the chance floor: 2/4; ' +
        'short: office-hours thief in weather#7 (90.0% → 75.0%); Tramèr in cars#7 (80.0% → 70.0%). Honest calls refused 3/1000, answers altered 1.',
    );
  });
});
