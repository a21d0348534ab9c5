import { describe, expect, it } from 'vitest';
import type { AttackRow, BenignRow, Reach } from '../../../benchmarks/quality/Measure.ts';
import { attackTable, barChecks, benignResponseTable, benignTable, responseTable } from '../../../benchmarks/quality/report/tables.ts';

const reach = (keys: number, of: number, median: number): Reach => ({ keys, of, median });

function attack(population: string, agreement: number, protectedAgreement: number): AttackRow {
  return {
    id: population,
    population,
    algorithm: 'a',
    pace: 'p',
    uses: 'labels',
    keys: 1,
    calls: 100,
    throttle: reach(1, 1, 40),
    truncate: reach(1, 1, 50),
    campaignCallsToTruncate: 50,
    agreement,
    agreementAtTruncate: agreement - 0.1,
    responses: { responses: { calls: 150, refused: 50, answered: 100, truncated: 20, deceived: 30, truncate: reach(1, 1, 50), agreement: protectedAgreement } },
    limiter: reach(0, 1, Infinity),
    prada: undefined,
    truncateDrivers: {},
    firstFire: {},
  };
}

function benign(population: string, accuracy: number, refused: number): BenignRow {
  return {
    population,
    keys: 2,
    calls: 1000,
    throttle: reach(0, 2, Infinity),
    truncate: reach(0, 2, Infinity),
    responses: { responses: { calls: 1000, refused, altered: Math.round((1 - accuracy) * (1000 - refused)), accuracy, throttle: reach(1, 2, Infinity), truncate: reach(0, 2, Infinity) } },
    limiter: reach(0, 2, Infinity),
    prada: undefined,
    throttleDrivers: {},
    maxRisk: 0.4,
  };
}

describe('response tables', () => {
  it('fill the "with responses" columns from the named world, n/a without one', () => {
    const rows = [attack('A', 0.9, 0.45)];
    expect(attackTable(rows, 'responses')).toContain('| 45.0% |');
    expect(attackTable(rows)).toContain('n/a (no responses run)');
    expect(benignTable([benign('B', 0.998, 10)], 'responses')).toContain('99.8% (1.0%)');
  });

  it('show calls with refusals, truncated / deceived answers and the cut in points', () => {
    const table = responseTable([attack('A', 0.9, 0.45), attack('C', 0.5, 0.55)], ['responses']);
    expect(table).toContain('| A | labels | 100, 90.0% | 150 (50) | 20 / 30 of 100 | 1/1 | 45.0% | 45.0 |');
    expect(table).toContain('| 55.0% | -5.0 |');
    expect(benignResponseTable([benign('B', 0.998, 10)], ['responses'])).toContain('| B | 1000 | 1/2 / 0/2 | 10 (1.0%) | 2 | 99.8% |');
  });

  it('check the bar: met only when every attack is cut by ≥ 40 points at ≤ 0.5% benign accuracy loss', () => {
    const line = (attacks: AttackRow[], b: BenignRow[]) => barChecks(attacks, b, ['responses']).at(-1)!;
    expect(line([attack('A', 0.9, 0.45)], [benign('B', 0.996, 0)])).toMatch(/responses: met — 1\/1 attacks/);
    expect(line([attack('A', 0.9, 0.45)], [benign('B', 0.994, 0)])).toMatch(/NOT met .*loss 0\.60 points/);
    expect(line([attack('A', 0.9, 0.45), attack('C', 0.5, 0.2)], [benign('B', 1, 0)])).toMatch(/NOT met — 1\/2 attacks cut by ≥ 40 points \(A\), median cut 37\.5 points/);
    expect(barChecks([attack('A', 0.9, 0.45)], [benign('B', 1, 0)]).at(-1)).toMatch(/n\/a, no responses world was run/);
    // Beside the verdict: the attacks not cut by 40 points that are left at or below the chance floor.
    const withFloor = barChecks([attack('A', 0.9, 0.45), attack('C', 0.5, 0.45), attack('D', 0.7, 0.6)], [benign('B', 1, 0)], ['responses'], 0.5).at(-1)!;
    expect(withFloor).toMatch(/NOT met — 1\/3 attacks .* of the other 2, 1 left at or below the chance floor of 50\.0% \(C\);/);
  });

  it('names the benign populations with keys at truncate', () => {
    const flagged = { ...benign('away', 1, 0), truncate: reach(1, 2, 400) };
    expect(barChecks([attack('A', 0.9, 0.45)], [benign('B', 1, 0)])[1]).toBe('No benign key at ≥ truncate: met.');
    expect(barChecks([attack('A', 0.9, 0.45)], [benign('B', 1, 0), flagged])[1]).toBe('No benign key at ≥ truncate: NOT met, 1/4 benign keys reached it (away 1/2).');
  });
});
