import { median } from '../Measure.ts';
import type { HonestMargin, PopulationDetection, WorldDetection } from '../worlds/detectWorld.ts';
import { calls, markdownTable, pct } from './tables.ts';

/** The issue 10 bar: attacks at ≥ truncate within this many counted calls (median over worlds). */
export const BAR_CALLS = 100;

export const label = (w: WorldDetection) => `${w.name}#${w.seed}`;

/** Honest keys of a world at ≥ throttle and ≥ truncate, of all its honest keys. */
export function honestShares(w: WorldDetection): { keys: number; throttle: number; truncate: number } {
  const benign = w.populations.filter((p) => p.kind === 'benign');
  return {
    keys: benign.reduce((s, p) => s + p.truncate.of, 0),
    throttle: benign.reduce((s, p) => s + p.throttle.keys, 0),
    truncate: benign.reduce((s, p) => s + p.truncate.keys, 0),
  };
}

/** Attacks of a world that reach the bar (≥ truncate within `BAR_CALLS` counted calls), and those never at ≥ truncate. */
export function attackOutcome(w: WorldDetection): { attacks: number; withinBar: number; never: string[]; late: string[] } {
  const attacks = w.populations.filter((p) => p.kind === 'attack');
  return {
    attacks: attacks.length,
    withinBar: attacks.filter((p) => p.barCalls <= BAR_CALLS).length,
    never: attacks.filter((p) => !Number.isFinite(p.barCalls)).map((p) => p.population),
    late: attacks.filter((p) => Number.isFinite(p.barCalls) && p.barCalls > BAR_CALLS).map((p) => `${p.population} ${calls(p.barCalls)}`),
  };
}

const benignCell = (p: PopulationDetection) => `${p.throttle.keys} / ${p.truncate.keys} of ${p.truncate.of}`;
/** An attack's calls to ≥ truncate that the bar counts, with its keys there when it has several. */
export const attackCell = (p: PopulationDetection) => (p.truncate.of > 1 ? `${calls(p.barCalls)} (${p.truncate.keys}/${p.truncate.of} keys)` : calls(p.barCalls));

/** One block per world: what it is, and each population's detection. */
export function worldBlock(w: WorldDetection): string {
  const h = honestShares(w);
  const a = attackOutcome(w);
  const rows = w.populations.map((p) => [p.kind, p.population, p.kind === 'benign' ? benignCell(p) : attackCell(p), p.maxRisk.toFixed(2), String(p.calls)]);
  return [
    `#### ${label(w)} — ${w.victim}, held-out accuracy ${pct(w.accuracy)}`,
    '',
    `${w.description}. ${w.events} events from ${w.keys} keys; replay check ${w.replay.mismatched === 0 ? `identical (${w.replay.keys} keys)` : `FAILED: ${w.replay.mismatched} keys differ`}. ` +
      `Honest keys at ≥ throttle ${h.throttle}/${h.keys}, at ≥ truncate ${h.truncate}/${h.keys}; attacks at ≥ truncate within ${BAR_CALLS} calls ${a.withinBar}/${a.attacks}.`,
    '',
    markdownTable(['kind', 'population', 'benign: keys ≥ throttle / ≥ truncate · attack: calls to ≥ truncate', 'max risk', 'calls'], rows),
  ].join('\n');
}

/**
 * Populations down, worlds across: benign cells are keys at ≥ throttle /
 * ≥ truncate of the population's keys; attack cells are the median calls
 * to ≥ truncate that the bar counts ("never" within the budget). The last
 * columns are the worst world and the mean (benign: keys at ≥ truncate)
 * or median (attacks: calls) over worlds.
 */
export function familyMatrix(worlds: readonly WorldDetection[]): string {
  const names = [...new Set(worlds.flatMap((w) => w.populations.map((p) => `${p.kind}\u0000${p.population}`)))].map((s) => s.split('\u0000') as ['attack' | 'benign', string]);
  names.sort((x, y) => (x[0] === y[0] ? 0 : x[0] === 'benign' ? -1 : 1));
  const rows = names.map(([kind, population]) => {
    const cells = worlds.map((w) => w.populations.find((p) => p.population === population));
    const present = cells.filter((c): c is PopulationDetection => c !== undefined);
    let worst: string;
    let centre: string;
    if (kind === 'benign') {
      const shares = present.map((p) => p.truncate.keys / Math.max(1, p.truncate.of));
      const i = shares.indexOf(Math.max(...shares));
      worst = shares[i] > 0 ? `${label(worlds[cells.indexOf(present[i])])}: ${present[i].truncate.keys}/${present[i].truncate.of} at ≥ truncate` : 'none at ≥ truncate';
      centre = `${pct(shares.reduce((s, v) => s + v, 0) / Math.max(1, shares.length))} at ≥ truncate`;
    } else {
      const c = present.map((p) => p.barCalls);
      const i = c.indexOf(Math.max(...c));
      worst = `${label(worlds[cells.indexOf(present[i])])}: ${calls(c[i])}`;
      const m = median(c);
      centre = Number.isFinite(m) ? `${calls(m)} calls` : 'never';
    }
    return [kind, population, ...cells.map((p) => (p === undefined ? '—' : kind === 'benign' ? benignCell(p) : attackCell(p))), worst, centre];
  });
  return markdownTable(['kind', 'population', ...worlds.map(label), 'worst world', 'mean (benign) / median (attacks) over worlds'], rows);
}

/** One row per world: honest keys punished, attacks caught, replay, time. */
export function worldSummaryTable(worlds: readonly WorldDetection[]): string {
  return markdownTable(
    ['world', 'victim (accuracy)', 'events', 'honest keys ≥ throttle', 'honest keys ≥ truncate', 'closest honest key: highest risk · highest signature score', `attacks ≥ truncate within ${BAR_CALLS}`, 'attacks never at ≥ truncate', 'replay check', 'wall s (build + simulate + replay)', 'CPU s'],
    worlds.map((w) => {
      const h = honestShares(w);
      const a = attackOutcome(w);
      return [
        label(w),
        `${w.victim} (${pct(w.accuracy)})`,
        String(w.events),
        `${h.throttle}/${h.keys} (${pct(h.throttle / Math.max(1, h.keys))})`,
        `${h.truncate}/${h.keys} (${pct(h.truncate / Math.max(1, h.keys))})`,
        marginCell(w.honestMargin),
        `${a.withinBar}/${a.attacks}`,
        a.never.length ? a.never.join(', ') : 'none',
        w.replay.mismatched === 0 ? 'identical' : `${w.replay.mismatched} differ`,
        `${w.seconds.build.toFixed(0)} + ${w.seconds.simulate.toFixed(0)} + ${w.seconds.replay.toFixed(0)}`,
        w.seconds.cpu.toFixed(0),
      ];
    }),
  );
}

/** "0.70 (stratified validation teams) · off-manifold 0.53 (stratified validation teams)". */
function marginCell(m: HonestMargin): string {
  const sig = m.signature.value > 0 ? `${m.signature.detector} ${m.signature.value.toFixed(2)} (${m.signature.population})` : 'none';
  return `${m.risk.value.toFixed(2)} (${m.risk.population}) · ${sig}`;
}

/** The worst world on each side (every world tied at the worst), and the means over worlds. */
export function worstWorldLine(worlds: readonly WorldDetection[]): string {
  const share = (h: { truncate: number; keys: number }) => h.truncate / Math.max(1, h.keys);
  const honest = worlds.map((w) => ({ w, ...honestShares(w) }));
  const worstShare = Math.max(...honest.map(share));
  const worstHonest = honest.filter((h) => share(h) === worstShare);
  const outcomes = worlds.map((w) => ({ w, ...attackOutcome(w) }));
  const missed = (o: (typeof outcomes)[number]) => o.attacks - o.withinBar;
  const mostMissed = Math.max(...outcomes.map(missed));
  const worstAttack = outcomes.filter((o) => missed(o) === mostMissed);
  const allHonest = honest.reduce((s, h) => s + h.keys, 0);
  const allTruncated = honest.reduce((s, h) => s + h.truncate, 0);
  const meanShare = honest.reduce((s, h) => s + share(h), 0) / honest.length;
  const meanMissed = outcomes.reduce((s, o) => s + missed(o) / Math.max(1, o.attacks), 0) / outcomes.length;
  return (
    `WORST WORLD — honest keys: ${worstHonest.map((h) => `${label(h.w)} ${h.truncate}/${h.keys}`).join(', ')} (${pct(worstShare)}) at ≥ truncate; ` +
    `attacks: ${worstAttack.map((o) => `${label(o.w)}${o.never.length ? ` (never: ${o.never.join(', ')})` : ''}`).join('; ')} with ${mostMissed}/${worstAttack[0].attacks} not at ≥ truncate within ${BAR_CALLS} calls. ` +
    `MEAN over ${worlds.length} worlds — honest keys at ≥ truncate ${pct(meanShare)} (${allTruncated}/${allHonest} keys in all); attacks missing the ${BAR_CALLS}-call bar ${pct(meanMissed)}.`
  );
}

/** Issue 10's bar read on these worlds (the responses part is `bench:quality`'s, not measured here). */
export function familyBarLine(worlds: readonly WorldDetection[]): string {
  const punished = worlds.flatMap((w) => w.populations.filter((p) => p.kind === 'benign' && p.truncate.keys > 0).map((p) => `${p.population} ${p.truncate.keys} in ${label(w)}`));
  const attacks = [...new Set(worlds.flatMap((w) => w.populations.filter((p) => p.kind === 'attack').map((p) => p.population)))];
  const everyWorld = attacks.filter((a) => worlds.every((w) => Number.isFinite(w.populations.find((p) => p.population === a)?.barCalls ?? Infinity)));
  const medians = attacks.map((a) => ({ a, m: median(worlds.map((w) => w.populations.find((p) => p.population === a)?.barCalls ?? Infinity)) }));
  const over = medians.filter((x) => !(x.m <= BAR_CALLS));
  const caught = attacks.filter((a) => everyWorld.includes(a) && !over.some((x) => x.a === a));
  const replayOk = worlds.every((w) => w.replay.mismatched === 0);
  const pass = punished.length === 0 && caught.length === attacks.length;
  return (
    `BAR (issue 10, detection part) ${pass ? 'MET' : 'NOT MET'}: honest keys at ≥ truncate in any world: ${punished.length === 0 ? 'none' : punished.join(', ')}; ` +
    `attack families at ≥ truncate in every world with a median over worlds ≤ ${BAR_CALLS} calls: ${caught.length}/${attacks.length}` +
    `${everyWorld.length < attacks.length ? `; missed in some world: ${attacks.filter((a) => !everyWorld.includes(a)).join(', ')}` : ''}` +
    `${over.length ? `; median over ${BAR_CALLS}: ${over.map((x) => `${x.a} ${calls(x.m)}`).join(', ')}` : ''}; replay check ${replayOk ? 'identical in every world' : 'FAILED in some world'}.`
  );
}
