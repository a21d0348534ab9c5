import type { Config } from '../config/configSchema.ts';
import { LEVELS, type Level, levelRank } from '../contract.ts';
import type { ManualDecisionBook } from './ManualDecisionBook.ts';
import { type LevelPolicy, PolicyResolver } from './PolicyResolver.ts';
import { DOUBLE_ZERO } from '../state/doubleZero.ts';

type PolicyConfig = Config['policy'];

/** A key's position on the ladder; plain JSON, kept in the key's state. */
export interface LadderState {
  level: Level;
  /** Event time the key reached this level. */
  since: number;
  /** Event time the last decision for this key expires. */
  expiresAt: number;
  /** Event time the last decision was issued. */
  decidedAt: number;
  /** Event times the key reached the offence level from below (newest last, bounded); absent in old snapshots. */
  offences?: number[];
  /** Calls made at this level, counted from `policy.persistence.fromLevel` up; absent in old snapshots. */
  callsAt?: number;
  /** The level the key stood at when it stepped up for going on calling under it; unset when its risk raised it. */
  raisedFrom?: Level;
}

export interface LadderStep {
  level: Level;
  changed: boolean;
  /** True when a decision must be (re)published: a change, or a refresh before expiry. */
  decide: boolean;
  expiresAt: number;
  /** Earlier offences in the window that lowered the thresholds for this step. */
  priorOffences: number;
  /** Why an allowlisted key was held at allow (its entry's reason), when it was. */
  allowlisted?: string;
  /** The level the key stepped up from because it went on calling under it (`policy.persistence`), when it did at this step. */
  persisted?: Level;
}

export function initialLadderState(): LadderState {
  // Event times start on doubles and `offences` is there from the start: one shape for every key's ladder (see `DOUBLE_ZERO`).
  return { level: 'allow', since: DOUBLE_ZERO, expiresAt: DOUBLE_ZERO, decidedAt: -1 + DOUBLE_ZERO, offences: undefined, callsAt: 0, raisedFrom: undefined };
}

/**
 * Maps risk to the ladder `allow < observe < throttle < truncate < deceive <
 * block`:
 * - a key goes up at once to the highest level its risk reaches, within
 *   `maxLevel`;
 * - it comes down only once the level's TTL has run and the risk is
 *   `hysteresis` below the level's threshold, one rung at a time (`decay:
 *   stepwise`, each rung then dwells its own TTL) or straight to the level
 *   the risk supports (`direct`), so levels do not flap;
 * - a level the risk still supports is re-issued before it expires;
 * - repeat offenders (keys that reached `repeatOffenders.offenceLevel`
 *   before, within the window) meet lower thresholds and longer TTLs;
 * - a key that has made `persistence.calls` calls at a level from
 *   `persistence.fromLevel` up steps up one rung at its next call the risk
 *   still holds that level at, up to `persistence.toLevel` (calls are
 *   counted only when `step` is told a call was made: group ladders step on
 *   readings);
 * - allowlisted keys stay at allow until their entry lapses (event time),
 *   and so do keys an analyst allowed at run time (a manual allow on the
 *   key, its tenant or its network, from `manual`);
 * - tenants may override thresholds, hysteresis, TTLs, maxLevel and shadow.
 */
export class ResponseLadder {
  private readonly resolver: PolicyResolver;

  constructor(
    private readonly config: PolicyConfig,
    private readonly manual?: ManualDecisionBook,
  ) {
    this.resolver = new PolicyResolver(config);
  }

  /** The policy for `tenant` (global when null or not overridden). */
  policyFor(tenant: string | null = null): LevelPolicy {
    return this.resolver.forTenant(tenant);
  }

  threshold(level: Level, tenant: string | null = null): number {
    return level === 'allow' ? 0 : this.policyFor(tenant).thresholds[level];
  }

  ttl(level: Level, tenant: string | null = null): number {
    const ttl = this.policyFor(tenant).ttlMs;
    return level === 'allow' ? ttl.observe : ttl[level];
  }

  /** The highest level whose threshold `risk + margin` reaches, within the cap, with thresholds lowered by `discount`. */
  target(risk: number, margin = 0, tenant: string | null = null, discount = 0): Level {
    const policy = this.policyFor(tenant);
    const maxRank = levelRank(policy.maxLevel);
    let rank = 0;
    for (let i = 1; i <= maxRank; i++) if (risk + margin >= policy.thresholds[LEVELS[i] as Exclude<Level, 'allow'>] - discount) rank = i;
    return LEVELS[rank];
  }

  /** True when the tenant's decisions are published as shadow (global or tenant override). */
  shadow(tenant: string | null = null): boolean {
    return this.policyFor(tenant).shadow;
  }

  /** One step of `state` at `risk`; `call` says the step is a call of the key's (what `persistence` counts). */
  step(key: string, state: LadderState, risk: number, ts: number, tenant: string | null = null, clientIp: string | null = null, call = false): LadderStep {
    const policy = this.policyFor(tenant);
    const repeat = this.config.repeatOffenders;
    const current = state.level;
    const offenceRank = levelRank(repeat.offenceLevel);
    // The offence that began the key's current episode is not a prior one.
    const ongoing = levelRank(current) >= offenceRank ? 1 : 0;
    const prior = Math.min(repeat.maxSteps, Math.max(0, countSince(state.offences, ts - repeat.windowMs) - ongoing));
    const discount = prior * repeat.thresholdStep;
    const allowEntry = this.resolver.allowlisted(key, ts) ?? this.manual?.allowed(key, tenant, clientIp, ts);
    let next: Level = current;
    // The level the risk still supports once the hysteresis margin is granted.
    let held: Level = 'allow';
    let persisted: Level | undefined;
    if (allowEntry === undefined) {
      held = this.target(risk, policy.hysteresis, tenant, discount);
      const up = this.target(risk, 0, tenant, discount);
      if (levelRank(up) > levelRank(current)) next = up;
      else if (ts >= state.expiresAt && levelRank(held) < levelRank(current)) next = this.config.decay === 'direct' ? held : LEVELS[levelRank(current) - 1];
      else if (call && this.persists(state, held, policy.maxLevel)) {
        next = LEVELS[levelRank(current) + 1];
        persisted = current;
      }
      // A tenant's lowered cap applies at the next step, not only on the way up.
      if (levelRank(next) > levelRank(policy.maxLevel)) next = policy.maxLevel;
    } else {
      next = 'allow';
    }
    const changed = next !== current;
    const ttl = this.ttl(next, tenant) * repeat.ttlFactor ** prior;
    // A level the risk still supports is re-issued before its decision expires at the gateways.
    const refresh = !changed && next !== 'allow' && levelRank(held) >= levelRank(next) && ts - state.decidedAt >= ttl / 2;
    if (changed) {
      state.since = ts;
      state.callsAt = 0;
      if (levelRank(next) >= offenceRank && levelRank(current) < offenceRank) state.offences = recordOffence(state.offences, ts, ts - repeat.windowMs, repeat.maxSteps + 1);
    }
    // The persistence mark stays while the key stands above the level its risk holds; once the risk holds it, the level is the risk's.
    state.raisedFrom = persisted ?? (levelRank(next) > levelRank(held) ? state.raisedFrom : undefined);
    if (changed || refresh) {
      state.level = next;
      state.expiresAt = ts + ttl;
      state.decidedAt = ts;
    }
    const step: LadderStep = { level: next, changed, decide: changed || refresh, expiresAt: state.expiresAt, priorOffences: prior };
    if (allowEntry !== undefined) step.allowlisted = allowEntry;
    if (persisted !== undefined) step.persisted = persisted;
    return step;
  }

  /**
   * Counts a call made at the key's level; true once enough were made and the risk still holds the level (a key the
   * level's TTL alone keeps there is not stepped up on calls its evidence no longer backs).
   */
  private persists(state: LadderState, held: Level, maxLevel: Level): boolean {
    const p = this.config.persistence;
    const rank = levelRank(state.level);
    if (!p.enabled || rank < levelRank(p.fromLevel) || rank >= Math.min(levelRank(p.toLevel), levelRank(maxLevel))) return false;
    state.callsAt = (state.callsAt ?? 0) + 1;
    return state.callsAt >= p.calls && levelRank(held) >= rank;
  }
}

function countSince(times: readonly number[] | undefined, from: number): number {
  if (!times) return 0;
  let n = 0;
  for (const t of times) if (t > from) n++;
  return n;
}

/** Appends `ts`, forgetting offences outside the window and keeping at most `keep`. */
function recordOffence(times: readonly number[] | undefined, ts: number, from: number, keep: number): number[] {
  const kept = (times ?? []).filter((t) => t > from);
  kept.push(ts);
  return kept.slice(-keep);
}
