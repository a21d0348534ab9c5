import { type AttackRow, type BenignRow, type Reach, median } from '../Measure.ts';

const NA_RESPONSES = 'n/a (no responses run)';
const NA_PRADA = 'n/a: detector not present';

export const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
export const calls = (n: number) => (Number.isFinite(n) ? String(Math.round(n)) : 'never');
const share = (r: Reach) => `${r.keys}/${r.of}`;
const reachCell = (r: Reach) => `${share(r)} (${calls(r.median)})`;

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A difference of shares in percentage points. */
const points = (x: number) => (100 * x).toFixed(1);
const refusedCell = (calls: number, refused: number) => `${calls} (${refused})`;

/** Per attack: detection, the baselines, and how good the stolen copy is (`variant`: the responses world shown). */
export function attackTable(rows: readonly AttackRow[], variant?: string): string {
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
      variant && r.responses[variant] ? pct(r.responses[variant].agreement) : NA_RESPONSES,
      reachCell(r.limiter),
      r.prada ? reachCell(r.prada.truncate) : NA_PRADA,
    ]),
  );
}

/** Per benign population: false positives, and what enforcement costs honest users (`variant`: the responses world shown). */
export function benignTable(rows: readonly BenignRow[], variant?: string): string {
  return markdownTable(
    [
      'benign population',
      'keys',
      'calls',
      'keys ≥ throttle (median call)',
      'keys ≥ truncate (median call)',
      'max risk',
      'top detector at ≥ throttle',
      'answer accuracy under enforcement (calls refused)',
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
      variant && r.responses[variant] ? `${pct(r.responses[variant].accuracy)} (${pct(r.responses[variant].refused / Math.max(r.responses[variant].calls, 1))})` : NA_RESPONSES,
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

/**
 * Per attack and responses world: what the campaign had to send (a patient
 * attacker resends refused calls), how many answers came back truncated or
 * deceived, detection in that world, and the surrogate trained on what the
 * attacker actually received against the unprotected one (same seed, same
 * cast, same surrogate training seed).
 */
export function responseTable(rows: readonly AttackRow[], variants: readonly string[]): string {
  return markdownTable(
    ['attack', 'answers used', 'unprotected: calls, agreement', ...variants.flatMap((v) => [`${v}: calls (refused)`, 'answers truncated / deceived', 'keys ≥ truncate', 'agreement', 'cut (points)'])],
    rows.map((r) => [
      r.population,
      r.uses,
      `${r.calls}, ${pct(r.agreement)}`,
      ...variants.flatMap((v) => {
        const x = r.responses[v];
        return [refusedCell(x.calls, x.refused), `${x.truncated} / ${x.deceived} of ${x.answered}`, share(x.truncate), pct(x.agreement), points(r.agreement - x.agreement)];
      }),
    ]),
  );
}

/** Per benign population and responses world: calls refused and answers whose top-1 changed. */
export function benignResponseTable(rows: readonly BenignRow[], variants: readonly string[]): string {
  return markdownTable(
    ['benign population', 'calls', ...variants.flatMap((v) => [`${v}: keys ≥ throttle / ≥ truncate`, 'calls refused', 'answers with another top-1', 'answer accuracy'])],
    rows.map((r) => [
      r.population,
      String(r.calls),
      ...variants.flatMap((v) => {
        const x = r.responses[v];
        return [`${share(x.throttle)} / ${share(x.truncate)}`, `${x.refused} (${pct(x.refused / Math.max(x.calls, 1))})`, String(x.altered), pct(x.accuracy)];
      }),
    ]),
  );
}

/** The issue's bar, checked line by line. */
/**
 * The bar of issue 4, checked as written, per responses world. Beside it, the
 * attacks not cut by 40 points whose protected surrogate is at or below the
 * chance floor (`floor`: always answering the victim's most frequent class),
 * as such a surrogate is no usable copy even though the cut is small (an
 * attack whose unprotected surrogate is already near the floor cannot lose 40
 * points). The verdict stays the bar's.
 */
export function barChecks(attacks: readonly AttackRow[], benign: readonly BenignRow[], variants: readonly string[] = [], floor?: number): string[] {
  const caught = attacks.filter((a) => a.truncate.median <= 100);
  const missed = attacks.filter((a) => !(a.truncate.median <= 100)).map((a) => `${a.population} (${calls(a.truncate.median)})`);
  const benignTruncated = benign.reduce((s, b) => s + b.truncate.keys, 0);
  const benignKeys = benign.reduce((s, b) => s + b.keys, 0);
  const lines = [
    `Median ≤ 100 calls to ≥ truncate: ${caught.length}/${attacks.length} attacks${missed.length ? `; missed: ${missed.join(', ')}` : ''}.`,
    `No benign key at ≥ truncate: ${benignTruncated === 0 ? 'met' : `NOT met, ${benignTruncated}/${benignKeys} benign keys reached it (${benign.filter((b) => b.truncate.keys > 0).map((b) => `${b.population} ${b.truncate.keys}/${b.keys}`).join(', ')})`}.`,
  ];
  if (variants.length === 0) lines.push('Surrogate agreement cut by ≥ 40 points at ≤ 0.5% benign accuracy loss: n/a, no responses world was run.');
  for (const v of variants) {
    const cuts = attacks.map((a) => ({ a, cut: a.agreement - a.responses[v].agreement }));
    const ok = cuts.filter((c) => c.cut >= 0.4);
    const worst = benign.reduce((w, b) => (b.responses[v].accuracy < w.responses[v].accuracy ? b : w));
    const loss = 1 - worst.responses[v].accuracy;
    const refused = benign.reduce((s, b) => s + b.responses[v].refused, 0);
    const benignCalls = benign.reduce((s, b) => s + b.responses[v].calls, 0);
    const met = ok.length === attacks.length && loss <= 0.005;
    lines.push(
      `Surrogate agreement cut by ≥ 40 points at ≤ 0.5% benign accuracy loss, ${v}: ${met ? 'met' : 'NOT met'} — ` +
        `${ok.length}/${attacks.length} attacks cut by ≥ 40 points${ok.length ? ` (${ok.map((c) => c.a.population).join(', ')})` : ''}, median cut ${points(median(cuts.map((c) => c.cut)))} points; ` +
        floorNote(cuts, v, floor) +
        `worst benign answer accuracy ${pct(worst.responses[v].accuracy)} (${worst.population}, loss ${(100 * loss).toFixed(2)} points); ` +
        `benign calls refused by the throttle ${refused}/${benignCalls} (${pct(refused / Math.max(benignCalls, 1))}).`,
    );
  }
  return lines;
}

/** Of the attacks not cut by 40 points, those whose protected surrogate is at or below the chance floor. */
function floorNote(cuts: readonly { a: AttackRow; cut: number }[], variant: string, floor: number | undefined): string {
  if (floor === undefined) return '';
  const rest = cuts.filter((c) => c.cut < 0.4);
  if (rest.length === 0) return '';
  const atFloor = rest.filter((c) => c.a.responses[variant].agreement <= floor);
  return `of the other ${rest.length}, ${atFloor.length} left at or below the chance floor of ${pct(floor)}${atFloor.length ? ` (${atFloor.map((c) => c.a.population).join(', ')})` : ''}; `;
}
