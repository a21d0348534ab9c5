import { describe, expect, it } from 'vitest';
import { firstLimitedCall } from '../../../benchmarks/quality/baselines/RateLimiter.ts';
import { firstAtLeast, median } from '../../../benchmarks/quality/Measure.ts';
import { replaceBlock, sectionMarkers } from '../../../benchmarks/utils/results.ts';
import { riskVsQueriesSvg } from '../../../benchmarks/quality/report/riskPlot.ts';
import { type SeedPopulation, seedBarLine, seedTable } from '../../../benchmarks/quality/seedSweep.ts';
import type { KeyTrace } from '../../../benchmarks/quality/world/World.ts';

describe('100-per-minute limiter baseline', () => {
  it('refuses the 101st call within a sliding minute, and nothing slower', () => {
    expect(firstLimitedCall(Array.from({ length: 150 }, (_, i) => i * 500))).toBe(101);
    expect(firstLimitedCall(Array.from({ length: 500 }, (_, i) => i * 601))).toBe(Infinity);
    // 100 calls, a pause just long enough, 100 more: never over.
    const t = [...Array.from({ length: 100 }, (_, i) => i), ...Array.from({ length: 100 }, (_, i) => 60_000 + i)];
    expect(firstLimitedCall(t)).toBe(Infinity);
    expect(firstLimitedCall([...t.slice(0, 100), 59_999])).toBe(101);
  });
});

describe('measures', () => {
  it('median counts "never" as infinite', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([1, Infinity, Infinity])).toBe(Infinity);
    expect(median([10, 20, Infinity, 40])).toBe(30);
    expect(median([])).toBeNaN();
  });

  it('finds the first change at or above a level', () => {
    const changes = [
      { eventsSeen: 5, ts: 1, level: 'observe' as const, risk: 0.3, detectors: {} },
      { eventsSeen: 9, ts: 2, level: 'deceive' as const, risk: 0.9, detectors: {} },
      { eventsSeen: 20, ts: 3, level: 'truncate' as const, risk: 0.7, detectors: {} },
    ];
    expect(firstAtLeast(changes, 'truncate')?.eventsSeen).toBe(9);
    expect(firstAtLeast(changes, 'block')).toBeUndefined();
  });
});

const { begin: SECTION_BEGIN, end: SECTION_END } = sectionMarkers('quality');
const replaceSection = (text: string, body: string) => replaceBlock(text, 'quality', body);

describe('RESULTS.md section', () => {
  it('replaces only its own section and keeps the others', () => {
    const other = '# Benchmark results\n\n## Replay throughput\nfast\n';
    const once = replaceSection(other, 'first');
    expect(once).toContain('## Replay throughput\nfast');
    expect(once).toContain(`${SECTION_BEGIN}\nfirst\n${SECTION_END}`);
    const twice = replaceSection(once + '\n## Later section\nkept\n', 'second');
    expect(twice).not.toContain('first');
    expect(twice).toContain('second');
    expect(twice).toContain('## Later section\nkept');
    expect(twice.split(SECTION_BEGIN)).toHaveLength(2);
    expect(replaceSection('', 'x')).toMatch(/^# Benchmark results/);
  });
});

describe('risk-vs-queries picture', () => {
  it('draws one panel per population and one line per key', () => {
    const trace = (key: string, risk: [number, number][]): KeyTrace => ({
      key,
      actorId: key,
      population: 'p',
      kind: 'attack',
      times: risk.map((_, i) => i),
      changes: {},
      risk,
      firstFire: {},
      maxScore: {},
    });
    const svg = riskVsQueriesSvg(
      [
        { title: 'benign <users>', kind: 'benign', traces: [trace('a', [[1, 0.1], [50, 0.2]])] },
        { title: 'attack', kind: 'attack', traces: [trace('b', [[1, 0.2], [500, 0.9]]), trace('c', [[2, 0.3], [1000, 0.8]])] },
      ],
      { thresholds: { throttle: 0.5, truncate: 0.7 } },
    );
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<path /g)).toHaveLength(3);
    expect(svg).toContain('benign &lt;users&gt;');
    expect(svg.match(/stroke-dasharray/g)).toHaveLength(4);
  });
});

describe('baseline pipelines', () => {
  it('PRADA alone runs only grid-sweep, or is reported absent', async () => {
    const { DETECTORS } = await import('../../../detectors/index.ts');
    const { defaultConfig, enabledDetectors, pradaOnlyConfig, PRADA_DETECTOR } = await import('../../../benchmarks/quality/baselines/pipelines.ts');
    expect(enabledDetectors(defaultConfig())).toEqual(DETECTORS.map((d) => d.name));
    const prada = pradaOnlyConfig();
    if (DETECTORS.some((d) => d.name === PRADA_DETECTOR)) expect(enabledDetectors(prada!)).toEqual([PRADA_DETECTOR]);
    else expect(prada).toBeUndefined();
  });
});

describe('seedTable', () => {
  const pop = (population: string, kind: 'attack' | 'benign', truncateAt: number[], maxRisk: number): SeedPopulation => {
    const hit = truncateAt.filter(Number.isFinite);
    const sorted = [...truncateAt].sort((a, b) => a - b);
    return { population, kind, throttle: { keys: hit.length, of: truncateAt.length, median: sorted[(sorted.length - 1) >> 1] }, truncate: { keys: hit.length, of: truncateAt.length, median: sorted[(sorted.length - 1) >> 1] }, maxRisk };
  };

  it('gives each population a row and each seed a column, with the median over seeds', () => {
    const table = seedTable([
      { seed: 1, events: 10, populations: [pop('users', 'benign', [Infinity, Infinity], 0.41), pop('knockoff', 'attack', [50], 1)] },
      { seed: 2, events: 10, populations: [pop('users', 'benign', [Infinity, 300], 0.8), pop('knockoff', 'attack', [Infinity], 0.6)] },
      { seed: 3, events: 10, populations: [pop('users', 'benign', [Infinity, Infinity], 0.3), pop('knockoff', 'attack', [70], 1)] },
    ]).split('\n');
    expect(table[0]).toBe('| population | seed 1 | seed 2 | seed 3 | median over seeds |');
    expect(table[2]).toBe('| users | ≥ throttle 0/2, ≥ truncate 0/2, max risk 0.410 | ≥ throttle 1/2, ≥ truncate 1/2, max risk 0.800 | ≥ throttle 0/2, ≥ truncate 0/2, max risk 0.300 | 1 keys at ≥ truncate in all |');
    expect(table[3]).toBe('| knockoff | ≥ truncate 1/1 (50) | ≥ truncate 0/1 (never) | ≥ truncate 1/1 (70) | 70 calls |');
  });

  it('reads the bar across seeds: attacks by their median over seeds, benign keys at truncate on any seed', () => {
    const run = (seed: number, users: number[], knockoff: number, papernot: number) => ({
      seed,
      events: 10,
      populations: [pop('users', 'benign', users, 0.5), pop('knockoff', 'attack', [knockoff], 1), pop('papernot', 'attack', [papernot], 1)],
    });
    expect(seedBarLine([run(1, [Infinity], 50, 240), run(2, [300], 500, 200), run(3, [Infinity], 60, 230)])).toBe(
      'Across seeds 1, 2, 3: median over seeds ≤ 100 calls to ≥ truncate for 1/2 attacks (missed: papernot 230); benign keys at ≥ truncate: 1 (users 0/1/0 by seed).',
    );
    expect(seedBarLine([run(1, [Infinity], 50, 90), run(2, [Infinity], Infinity, 80)])).toBe(
      'Across seeds 1, 2: median over seeds ≤ 100 calls to ≥ truncate for 1/2 attacks (missed: knockoff never); benign keys at ≥ truncate: none.',
    );
  });
});
