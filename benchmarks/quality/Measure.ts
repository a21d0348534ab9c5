import { type Level, levelRank } from '../../src/contract.ts';
import type { Attack } from './attacks/Attack.ts';
import { surrogateFromExchanges } from './attacks/Surrogate.ts';
import { firstLimitedCall } from './baselines/RateLimiter.ts';
import { predictProbs, topOneAgreement } from './Classifier.ts';
import type { VictimWorld } from './Victim.ts';
import type { SurrogateSpec } from './attacks/Attack.ts';
import type { Exchange } from './world/types.ts';
import type { ActorRecord, KeyTrace, LevelChange, WorldRecord } from './world/World.ts';

/** Keys reaching a level, and the median of their call counts when they did (Infinity = never). */
export interface Reach {
  keys: number;
  of: number;
  median: number;
}

export interface AttackRow {
  population: string;
  algorithm: string;
  pace: string;
  uses: string;
  keys: number;
  calls: number;
  throttle: Reach;
  truncate: Reach;
  /** Calls the whole campaign made up to its first key reaching truncate (Infinity = never). */
  campaignCallsToTruncate: number;
  /** Surrogate agreement with the victim on held-out data, trained on the unprotected answers. */
  agreement: number;
  /** … trained only on the answers received before the campaign's first truncate (undefined: never reached). */
  agreementAtTruncate: number | undefined;
  /** … trained on the answers as enforced (undefined while no enforcement exists). */
  agreementProtected: number | undefined;
  limiter: Reach;
  prada: { throttle: Reach; truncate: Reach } | undefined;
  /** Which detector weighed most at each key's first ≥ truncate (counts). */
  truncateDrivers: Record<string, number>;
  /** Per detector: median over keys of the call count at which its own score first reached the throttle threshold. */
  firstFire: Record<string, Reach>;
}

export interface BenignRow {
  population: string;
  keys: number;
  calls: number;
  throttle: Reach;
  truncate: Reach;
  /** Share of calls whose returned top-1 equals the unprotected one (undefined while no enforcement exists). */
  answerAccuracy: number | undefined;
  limiter: Reach;
  prada: { throttle: Reach; truncate: Reach } | undefined;
  /** Which detector weighed most at each key's first ≥ throttle (counts). */
  throttleDrivers: Record<string, number>;
  maxRisk: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** The first change reaching at least `level`. */
export function firstAtLeast(changes: readonly LevelChange[], level: Level): LevelChange | undefined {
  return changes.find((c) => levelRank(c.level) >= levelRank(level));
}

function reach(traces: readonly KeyTrace[], pipeline: string, level: Level): Reach {
  const at = traces.map((t) => firstAtLeast(t.changes[pipeline] ?? [], level)?.eventsSeen ?? Infinity);
  return { keys: at.filter(Number.isFinite).length, of: traces.length, median: median(at) };
}

function limiterReach(traces: readonly KeyTrace[]): Reach {
  const at = traces.map((t) => firstLimitedCall(t.times));
  return { keys: at.filter(Number.isFinite).length, of: traces.length, median: median(at) };
}

function drivers(traces: readonly KeyTrace[], pipeline: string, level: Level, weights: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of traces) {
    const c = firstAtLeast(t.changes[pipeline] ?? [], level);
    if (!c) continue;
    const top = Object.entries(c.detectors).sort((a, b) => b[1] * (weights[b[0]] ?? 1) - a[1] * (weights[a[0]] ?? 1))[0];
    if (top) out[top[0]] = (out[top[0]] ?? 0) + 1;
  }
  return out;
}

export interface MeasureContext {
  world: VictimWorld;
  surrogate: SurrogateSpec;
  primary: string;
  baseline: string | undefined;
  enforcementActive: boolean;
  weights: Record<string, number>;
  detectors: readonly string[];
  seed: number;
}

function tracesOf(record: WorldRecord, r: ActorRecord): KeyTrace[] {
  return r.actor.keys.map((k) => record.keys.get(k.apiKey)!);
}

function agreementOf(exchanges: readonly Exchange[], attack: Attack, ctx: MeasureContext, seed: number): number {
  const model = surrogateFromExchanges(exchanges, attack, ctx, seed);
  const agreement = topOneAgreement(predictProbs(model, ctx.world.testX), ctx.world.testVictimProbs);
  model.dispose();
  return agreement;
}

/** Detection, baselines and the stolen copy's quality for one attack campaign. */
export function measureAttack(record: WorldRecord, r: ActorRecord, ctx: MeasureContext): AttackRow {
  const attack = r.actor as Attack;
  const traces = tracesOf(record, r);
  const firstTruncateTs = Math.min(...traces.map((t) => firstAtLeast(t.changes[ctx.primary], 'truncate')?.ts ?? Infinity));
  const before = r.exchanges.filter((e) => e.ts <= firstTruncateTs);
  const unprotected = r.exchanges.map((e) => ({ ...e, answer: e.unprotected }));
  const seed = ctx.seed + 17;
  const agreement = agreementOf(unprotected, attack, ctx, seed);
  const agreementAtTruncate = Number.isFinite(firstTruncateTs) ? agreementOf(before.map((e) => ({ ...e, answer: e.unprotected })), attack, ctx, seed) : undefined;
  const agreementProtected = ctx.enforcementActive ? agreementOf(r.exchanges, attack, ctx, seed) : undefined;
  const firstFire: Record<string, Reach> = {};
  for (const d of ctx.detectors) {
    const at = traces.map((t) => t.firstFire[d] ?? Infinity);
    firstFire[d] = { keys: at.filter(Number.isFinite).length, of: traces.length, median: median(at) };
  }
  return {
    population: attack.population,
    algorithm: attack.algorithm,
    pace: attack.pace,
    uses: attack.uses,
    keys: traces.length,
    calls: r.calls,
    throttle: reach(traces, ctx.primary, 'throttle'),
    truncate: reach(traces, ctx.primary, 'truncate'),
    campaignCallsToTruncate: Number.isFinite(firstTruncateTs) ? before.length : Infinity,
    agreement,
    agreementAtTruncate,
    agreementProtected,
    limiter: limiterReach(traces),
    prada: ctx.baseline ? { throttle: reach(traces, ctx.baseline, 'throttle'), truncate: reach(traces, ctx.baseline, 'truncate') } : undefined,
    truncateDrivers: drivers(traces, ctx.primary, 'truncate', ctx.weights),
    firstFire,
  };
}

/** False positives and the cost of enforcement for one benign population (all its actors). */
export function measureBenign(record: WorldRecord, population: string, ctx: MeasureContext): BenignRow {
  const actors = record.actors.filter((r) => r.actor.population === population);
  const traces = actors.flatMap((r) => tracesOf(record, r));
  const calls = actors.reduce((s, r) => s + r.calls, 0);
  const altered = actors.reduce((s, r) => s + r.altered + r.refused, 0);
  return {
    population,
    keys: traces.length,
    calls,
    throttle: reach(traces, ctx.primary, 'throttle'),
    truncate: reach(traces, ctx.primary, 'truncate'),
    answerAccuracy: ctx.enforcementActive ? 1 - altered / Math.max(calls, 1) : undefined,
    limiter: limiterReach(traces),
    prada: ctx.baseline ? { throttle: reach(traces, ctx.baseline, 'throttle'), truncate: reach(traces, ctx.baseline, 'truncate') } : undefined,
    throttleDrivers: drivers(traces, ctx.primary, 'throttle', ctx.weights),
    maxRisk: Math.max(0, ...traces.flatMap((t) => t.risk.map(([, risk]) => risk))),
  };
}
