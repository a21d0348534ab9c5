import type { AttackRow, BenignRow, Reach } from '../Measure.ts';

const NA_RESPONSES = 'n/a (issue 5)';
const NA_PRADA = 'n/a: detector not present';

export const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
export const calls = (n: number) => (Number.isFinite(n) ? String(Math.round(n)) : 'never');
const share = (r: Reach) => `${r.keys}/${r.of}`;
const reachCell = (r: Reach) => `${share(r)} (${calls(r.median)})`;

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Per attack: detection, the baselines, and how good the stolen copy is. */
export function attackTable(rows: readonly AttackRow[]): string {
  return markdownTable(
    [
      'attack',
      'pace',
      'answers used',
      'calls',
      'keys ≥ truncate',
      'median calls to ≥ truncate',
      'campaign calls before 1st truncate',
      'surrogate agreement, unprotected',
      '… trained on answers before 1st truncate',
      '… with responses',
      '100/min limiter: keys limited (median call)',
      'PRADA alone: keys ≥ truncate (median call)',
    ],
    rows.map((r) => [
      r.population,
      r.pace,
      r.uses,
      String(r.calls),
      share(r.truncate),
      calls(r.truncate.median),
      calls(r.campaignCallsToTruncate),
      pct(r.agreement),
      r.agreementAtTruncate === undefined ? 'never caught' : pct(r.agreementAtTruncate),
      r.agreementProtected === undefined ? NA_RESPONSES : pct(r.agreementProtected),
      reachCell(r.limiter),
      r.prada ? reachCell(r.prada.truncate) : NA_PRADA,
    ]),
  );
}

/** Per benign population: false positives, and what enforcement costs honest users. */
export function benignTable(rows: readonly BenignRow[]): string {
  return markdownTable(
    [
      'benign population',
      'keys',
      'calls',
      'keys ≥ throttle (median call)',
      'keys ≥ truncate (median call)',
      'max risk',
      'top detector at ≥ throttle',
      'answer accuracy under enforcement',
      '100/min limiter: keys limited',
      'PRADA alone: keys ≥ throttle / ≥ truncate',
    ],
    rows.map((r) => [
      r.population,
      String(r.keys),
      String(r.calls),
      reachCell(r.throttle),
      reachCell(r.truncate),
      r.maxRisk.toFixed(3),
      driverCell(r.throttleDrivers) || '—',
      r.answerAccuracy === undefined ? NA_RESPONSES : pct(r.answerAccuracy),
      share(r.limiter),
      r.prada ? `${share(r.prada.throttle)} / ${share(r.prada.truncate)}` : NA_PRADA,
    ]),
  );
}

function driverCell(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([d, n]) => `${d} ${n}`)
    .join(', ');
}

/**
 * For the detector engineers: per attack, each detector's own first firing
 * (keys whose score alone reached the throttle threshold, median calls), and
 * which detector weighed most when the key first reached truncate.
 */
export function detectorTable(rows: readonly AttackRow[], detectors: readonly string[]): string {
  return markdownTable(
    ['attack', ...detectors.map((d) => `${d}: keys (median call)`), 'top detector at 1st ≥ truncate'],
    rows.map((r) => [r.population, ...detectors.map((d) => reachCell(r.firstFire[d])), driverCell(r.truncateDrivers) || '—']),
  );
}

/** The issue's bar, checked line by line. */
export function barChecks(attacks: readonly AttackRow[], benign: readonly BenignRow[]): string[] {
  const caught = attacks.filter((a) => a.truncate.median <= 100);
  const missed = attacks.filter((a) => !(a.truncate.median <= 100)).map((a) => `${a.population} (${calls(a.truncate.median)})`);
  const benignTruncated = benign.reduce((s, b) => s + b.truncate.keys, 0);
  const benignKeys = benign.reduce((s, b) => s + b.keys, 0);
  const cut = attacks.filter((a) => a.agreementProtected !== undefined);
  const lines = [
    `Median ≤ 100 calls to ≥ truncate: ${caught.length}/${attacks.length} attacks${missed.length ? `; missed: ${missed.join(', ')}` : ''}.`,
    `No benign key at ≥ truncate: ${benignTruncated === 0 ? 'met' : `NOT met, ${benignTruncated}/${benignKeys} benign keys reached it`}.`,
  ];
  if (cut.length === 0) {
    lines.push('Surrogate agreement cut by ≥ 40 points at ≤ 0.5% benign accuracy loss: n/a, no responses are enforced yet (issue 5).');
  } else {
    const drops = cut.map((a) => ({ a, drop: a.agreement - (a.agreementProtected ?? a.agreement) }));
    const ok = drops.filter((d) => d.drop >= 0.4).length;
    const worstBenign = Math.min(...benign.map((b) => b.answerAccuracy ?? 1));
    lines.push(`Surrogate agreement cut by ≥ 40 points: ${ok}/${cut.length} attacks; worst benign answer accuracy ${pct(worstBenign)} (bar: ≥ 99.5%).`);
  }
  return lines;
}
