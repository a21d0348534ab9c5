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
