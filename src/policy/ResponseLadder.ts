import type { Config } from '../config/configSchema.ts';
import { LEVELS, type Level, levelRank } from '../contract.ts';

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
}

export interface LadderStep {
  level: Level;
  changed: boolean;
  /** True when a decision must be (re)published: a change, or a refresh before expiry. */
  decide: boolean;
  expiresAt: number;
}

export function initialLadderState(): LadderState {
  return { level: 'allow', since: 0, expiresAt: 0, decidedAt: -1 };
}

/**
 * Maps risk to the ladder `allow < observe < throttle < truncate < deceive <
 * block` with hysteresis (a key steps down only once its risk is
 * `hysteresis` below its level's threshold and the level's TTL has run) so
 * levels do not flap, and a cap (`maxLevel`). Allowlisted keys stay at allow.
 */
export class ResponseLadder {
  private readonly allow: ReadonlySet<string>;
  private readonly maxRank: number;

  constructor(private readonly config: PolicyConfig) {
    this.allow = new Set(config.allowlist);
    this.maxRank = levelRank(config.maxLevel);
  }

  threshold(level: Level): number {
    return level === 'allow' ? 0 : this.config.thresholds[level];
  }

  ttl(level: Level): number {
    return level === 'allow' ? this.config.ttlMs.observe : this.config.ttlMs[level];
  }

  /** The highest level whose threshold `risk` reaches, within the cap. */
  target(risk: number, margin = 0): Level {
    let rank = 0;
    for (let i = 1; i <= this.maxRank; i++) if (risk + margin >= this.threshold(LEVELS[i])) rank = i;
    return LEVELS[rank];
  }

  step(key: string, state: LadderState, risk: number, ts: number): LadderStep {
    const current = state.level;
    let next: Level = current;
    // The level the risk still supports once the hysteresis margin is granted.
    const held = this.allow.has(key) ? 'allow' : this.target(risk, this.config.hysteresis);
    if (this.allow.has(key)) {
      next = 'allow';
    } else {
      const up = this.target(risk);
      if (levelRank(up) > levelRank(current)) next = up;
      else if (ts >= state.expiresAt && levelRank(held) < levelRank(current)) next = held;
    }
    const changed = next !== current;
    const ttl = this.ttl(next);
    // A level the risk still supports is re-issued before its decision expires at the gateways.
    const refresh = !changed && next !== 'allow' && levelRank(held) >= levelRank(next) && ts - state.decidedAt >= ttl / 2;
    if (changed) state.since = ts;
    if (changed || refresh) {
      state.level = next;
      state.expiresAt = ts + ttl;
      state.decidedAt = ts;
    }
    return { level: next, changed, decide: changed || refresh, expiresAt: state.expiresAt };
  }
}
