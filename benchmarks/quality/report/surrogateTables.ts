import type { PopulationDetection, WorldDetection } from '../worlds/detectWorld.ts';
import { markdownTable, pct } from './tables.ts';
import { attackCell, label } from './worldsTables.ts';

const never = (p: PopulationDetection) => !Number.isFinite(p.barCalls);
const agreementOf = (p: PopulationDetection) => (p.agreement === undefined ? 'n/a' : pct(p.agreement));
const floorOf = (w: WorldDetection) => (w.surrogates ? pct(w.surrogates.chanceFloor) : 'n/a');
const points = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)} pts`;

/**
 * Attacks down, worlds across: each campaign's surrogate agreement with the
 * victim on held-out data beside its calls to ≥ truncate; cells of
 * campaigns never at ≥ truncate are bold. The first row is each world's
 * chance floor (the victim's majority held-out class).
 */
export function surrogateMatrix(worlds: readonly WorldDetection[]): string {
  const attacks = [...new Set(worlds.flatMap((w) => w.populations.filter((p) => p.kind === 'attack').map((p) => p.population)))];
  const rows = attacks.map((a) => [
    a,
    ...worlds.map((w) => {
      const p = w.populations.find((q) => q.population === a);
      if (!p) return '—';
      const cell = `${agreementOf(p)} · ${attackCell(p)}`;
      return never(p) ? `**${cell}**` : cell;
    }),
  ]);
  return markdownTable(['attack', ...worlds.map(label)], [['chance floor', ...worlds.map(floorOf)], ...rows]);
}

/** Every campaign never at ≥ truncate in a world, with its surrogate's agreement against that world's chance floor. */
export function neverCaughtAgreementLine(worlds: readonly WorldDetection[]): string {
  const missed = worlds.flatMap((w) =>
    w.populations
      .filter((p) => p.kind === 'attack' && never(p))
      .map((p) => {
        const floor = w.surrogates?.chanceFloor;
        const margin = p.agreement !== undefined && floor !== undefined ? ` (${points(p.agreement - floor)})` : '';
        return `${p.population} in ${label(w)} ${agreementOf(p)} vs floor ${floorOf(w)}${margin}`;
      }),
  );
  return `NEVER AT ≥ TRUNCATE — surrogate agreement vs the world's chance floor: ${missed.length ? missed.join('; ') : 'none'}.`;
}

/** A caught campaign's copy is cut enough under responses when it loses ≥ 40 points, or is left at or below the world's chance floor. */
const CUT_BAR = 0.4;

/** The campaign reached ≥ truncate in the unprotected world (responses are judged on the attacks probewatch catches). */
const caught = (p: PopulationDetection) => p.truncate.keys > 0;

/** Whether a caught campaign's copy under responses meets the bar (undefined: not measured). */
function cutMet(p: PopulationDetection, floor: number): boolean | undefined {
  const after = p.responses?.agreement;
  if (p.agreement === undefined || after === undefined) return undefined;
  return p.agreement - after >= CUT_BAR || after <= floor;
}

/**
 * Attacks down, worlds across: each campaign's surrogate agreement unprotected → under the default
 * responses, and the cut in points. Cells of caught campaigns short of the bar (cut < 40 points and the
 * copy above the chance floor) are bold; campaigns never caught in the world are marked "not caught".
 */
export function responsesMatrix(worlds: readonly WorldDetection[]): string {
  const attacks = [...new Set(worlds.flatMap((w) => w.populations.filter((p) => p.kind === 'attack').map((p) => p.population)))];
  const rows = attacks.map((a) => [
    a,
    ...worlds.map((w) => {
      const p = w.populations.find((q) => q.population === a);
      const after = p?.responses?.agreement;
      if (!p || p.agreement === undefined || after === undefined) return '—';
      const cell = `${pct(p.agreement)} → ${pct(after)} (${points(after - p.agreement)})`;
      if (!caught(p)) return `${cell}, not caught`;
      return cutMet(p, w.surrogates?.chanceFloor ?? 0) ? cell : `**${cell}**`;
    }),
  ]);
  return markdownTable(['attack', ...worlds.map(label)], [['chance floor', ...worlds.map(floorOf)], ...rows]);
}

/** The responses bar over every world: caught campaigns cut by ≥ 40 points or left at the floor, and what honest populations paid. */
export function responsesBarLine(worlds: readonly WorldDetection[]): string {
  let judged = 0;
  const short: string[] = [];
  let benignCalls = 0;
  let benignRefused = 0;
  let benignAltered = 0;
  for (const w of worlds) {
    const floor = w.surrogates?.chanceFloor ?? 0;
    for (const p of w.populations) {
      if (p.kind === 'benign' && p.responses) {
        benignCalls += p.responses.calls;
        benignRefused += p.responses.refused;
        benignAltered += p.responses.altered;
      }
      if (p.kind !== 'attack' || !caught(p)) continue;
      const met = cutMet(p, floor);
      if (met === undefined) continue;
      judged++;
      if (!met) short.push(`${p.population} in ${label(w)} (${pct(p.agreement!)} → ${pct(p.responses!.agreement!)})`);
    }
  }
  return (
    `RESPONSES (SDK defaults) — caught campaigns cut by ≥ 40 points or left at or below the chance floor: ${judged - short.length}/${judged}` +
    `${short.length ? `; short: ${short.join('; ')}` : ''}. Honest calls refused ${benignRefused}/${benignCalls}, answers altered ${benignAltered}.`
  );
}
