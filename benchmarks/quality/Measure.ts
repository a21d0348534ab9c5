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
  /** The campaign's actor id (the same in every world of a run). */
  id: string;
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
  /** The same campaign in each world with responses enforced, by variant name. */
  responses: Record<string, AttackResponse>;
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
  /** The same population in each world with responses enforced, by variant name. */
  responses: Record<string, BenignResponse>;
  limiter: Reach;
  prada: { throttle: Reach; truncate: Reach } | undefined;
  /** Which detector weighed most at each key's first ≥ throttle (counts). */
  throttleDrivers: Record<string, number>;
  maxRisk: number;
}

/** An attack campaign where the gateway enforced probewatch's levels. */
export interface AttackResponse {
  /** Calls made, refused ones included (a patient attacker resends after Retry-After). */
  calls: number;
  /** Calls refused (429 throttle, 403 block). */
  refused: number;
  answered: number;
  /** Answered calls the gateway truncated (the key at truncate). */
  truncated: number;
  /** Answered calls the gateway deceived (the key at deceive). */
  deceived: number;
  /** Detection in this world (the events carry what the gateway returned). */
  truncate: Reach;
  /** Agreement of the surrogate trained on what the attacker actually received. */
  agreement: number;
}

/** A benign population where the gateway enforced probewatch's levels. */
export interface BenignResponse {
  calls: number;
  /** Calls refused (429/403): lost to a client that does not retry. */
  refused: number;
  /** Answered calls whose top-1 differs from the model's. */
  altered: number;
  /** Share of answered calls whose top-1 equals the unprotected one. */
  accuracy: number;
  throttle: Reach;
  truncate: Reach;
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

export function reach(traces: readonly KeyTrace[], pipeline: string, level: Level): Reach {
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
  weights: Record<string, number>;
  detectors: readonly string[];
  seed: number;
}

function tracesOf(record: WorldRecord, r: ActorRecord): KeyTrace[] {
  return r.actor.keys.map((k) => record.keys.get(k.apiKey)!);
}

/** What training and scoring a surrogate needs: the victim's world (held-out rows and answers), the surrogate's shape, the run's seed. */
export type SurrogateContext = Pick<MeasureContext, 'world' | 'surrogate' | 'seed'>;

/** Every surrogate of a run trains from one seed, so the worlds' agreements differ only by the answers. */
const surrogateSeed = (ctx: SurrogateContext) => ctx.seed + 17;

/** Top-1 agreement with the victim on held-out data of the surrogate trained on the answers these exchanges received (under enforcement, what the gateway returned). */
export function agreementOf(exchanges: readonly Exchange[], attack: Attack, ctx: SurrogateContext): number {
  const model = surrogateFromExchanges(exchanges, attack, ctx, surrogateSeed(ctx));
  const agreement = topOneAgreement(predictProbs(model, ctx.world.testX), ctx.world.testVictimProbs);
  model.dispose();
  return agreement;
}

/** Top-1 agreement with the victim on held-out data of the surrogate trained on the model's own answers to these exchanges. */
export function unprotectedAgreement(exchanges: readonly Exchange[], attack: Attack, ctx: SurrogateContext): number {
  return agreementOf(exchanges.map((e) => ({ ...e, answer: e.unprotected })), attack, ctx);
}

/** Detection, baselines and the stolen copy's quality for one attack campaign. */
export function measureAttack(record: WorldRecord, r: ActorRecord, ctx: MeasureContext): AttackRow {
  const attack = r.actor as Attack;
  const traces = tracesOf(record, r);
  const firstTruncateTs = Math.min(...traces.map((t) => firstAtLeast(t.changes[ctx.primary], 'truncate')?.ts ?? Infinity));
  const before = r.exchanges.filter((e) => e.ts <= firstTruncateTs);
  const agreement = unprotectedAgreement(r.exchanges, attack, ctx);
  const agreementAtTruncate = Number.isFinite(firstTruncateTs) ? unprotectedAgreement(before, attack, ctx) : undefined;
  const firstFire: Record<string, Reach> = {};
  for (const d of ctx.detectors) {
    const at = traces.map((t) => t.firstFire[d] ?? Infinity);
    firstFire[d] = { keys: at.filter(Number.isFinite).length, of: traces.length, median: median(at) };
  }
  return {
    id: attack.id,
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
    responses: {},
    limiter: limiterReach(traces),
    prada: ctx.baseline ? { throttle: reach(traces, ctx.baseline, 'throttle'), truncate: reach(traces, ctx.baseline, 'truncate') } : undefined,
    truncateDrivers: drivers(traces, ctx.primary, 'truncate', ctx.weights),
    firstFire,
  };
}

/** The campaign of `attackId` in a world with responses: what it cost and what the stolen copy is worth. */
export function measureAttackResponse(record: WorldRecord, attackId: string, ctx: MeasureContext): AttackResponse {
  const r = actorRecord(record, attackId);
  const answered = r.exchanges.filter((e) => e.answer.status < 400);
  return {
    calls: r.calls,
    refused: r.refused,
    answered: answered.length,
    truncated: answered.filter((e) => e.level === 'truncate').length,
    deceived: answered.filter((e) => e.level === 'deceive').length,
    truncate: reach(tracesOf(record, r), ctx.primary, 'truncate'),
    agreement: agreementOf(r.exchanges, r.actor as Attack, ctx),
  };
}

/** What enforcement cost one benign population: refused calls and altered answers. */
export function measureBenignResponse(record: WorldRecord, population: string, ctx: MeasureContext): BenignResponse {
  const actors = record.actors.filter((r) => r.actor.population === population);
  const traces = actors.flatMap((r) => tracesOf(record, r));
  const calls = actors.reduce((s, r) => s + r.calls, 0);
  const refused = actors.reduce((s, r) => s + r.refused, 0);
  const altered = actors.reduce((s, r) => s + r.altered, 0);
  return {
    calls,
    refused,
    altered,
    accuracy: 1 - altered / Math.max(calls - refused, 1),
    throttle: reach(traces, ctx.primary, 'throttle'),
    truncate: reach(traces, ctx.primary, 'truncate'),
  };
}

function actorRecord(record: WorldRecord, id: string): ActorRecord {
  const r = record.actors.find((a) => a.actor.id === id);
  if (!r) throw new Error(`no actor ${id} in this world`);
  return r;
}

/** False positives for one benign population (all its actors). */
export function measureBenign(record: WorldRecord, population: string, ctx: MeasureContext): BenignRow {
  const actors = record.actors.filter((r) => r.actor.population === population);
  const traces = actors.flatMap((r) => tracesOf(record, r));
  const calls = actors.reduce((s, r) => s + r.calls, 0);
  return {
    population,
    keys: traces.length,
    calls,
    throttle: reach(traces, ctx.primary, 'throttle'),
    truncate: reach(traces, ctx.primary, 'truncate'),
    responses: {},
    limiter: limiterReach(traces),
    prada: ctx.baseline ? { throttle: reach(traces, ctx.baseline, 'throttle'), truncate: reach(traces, ctx.baseline, 'truncate') } : undefined,
    throttleDrivers: drivers(traces, ctx.primary, 'throttle', ctx.weights),
    maxRisk: Math.max(0, ...traces.flatMap((t) => t.risk.map(([, risk]) => risk))),
  };
}
