import type { GroupVerdict } from '../../detectors/types.ts';
import { type Decision, type Level, levelRank } from '../contract.ts';
import { initialLadderState, type LadderState, type ResponseLadder } from './ResponseLadder.ts';

export interface GroupDecisionsOptions {
  /** Lowest level published as a group decision (a group stepping down from it is published too). */
  minLevel: Level;
  /** Groups whose ladder is kept; past it the group idle longest (event time) is forgotten. */
  maxGroups: number;
}

interface GroupState {
  ladder: LadderState;
  lastTs: number;
}

/**
 * Group decisions: each group that a cross-key detector reads (a tenant, a
 * network prefix, keys of alike query geometry) climbs its own response
 * ladder on its pooled score, with the thresholds and TTLs of the keys', and
 * is published as one decision (`group: true`, `scope`, subject in `api_key`)
 * once it reaches `minLevel`. Advisory: gateways do not apply it to members
 * — fusion raises a member only on its own evidence — so an analyst sees the
 * campaign as one and can enforce it with a manual decision on the tenant or
 * prefix. Kept in process memory (bounded): after a restart a group climbs
 * again from its next readings, and the decisions already published stay on
 * the compacted decisions topic until they lapse.
 */
export class GroupDecisions {
  private readonly groups = new Map<string, GroupState>();
  private readonly minRank: number;

  constructor(
    private readonly ladder: ResponseLadder,
    private readonly opts: GroupDecisionsOptions,
  ) {
    this.minRank = levelRank(opts.minLevel);
  }

  get size(): number {
    return this.groups.size;
  }

  /** Steps each group's ladder at its readings (event-time order) and returns the group decisions to publish. */
  observe(verdicts: readonly GroupVerdict[], shadow: boolean): Decision[] {
    const out: Decision[] = [];
    for (const v of verdicts) {
      const slot = `group:${v.scope}:${v.subject}`;
      let g = this.groups.get(slot);
      if (!g) {
        if (v.score <= 0) continue;
        this.makeRoom(v.ts);
        this.groups.set(slot, (g = { ladder: initialLadderState(), lastTs: v.ts }));
      }
      g.lastTs = Math.max(g.lastTs, v.ts);
      const from = g.ladder.level;
      const step = this.ladder.step(slot, g.ladder, v.score, v.ts);
      if (!step.decide || Math.max(levelRank(step.level), levelRank(from)) < this.minRank) continue;
      out.push({
        api_key: v.subject,
        level: step.level,
        reason: `group evidence on model ${v.model}: ${v.evidence()}`,
        expires_at: step.expiresAt,
        shadow,
        group: true,
        scope: v.scope,
      });
    }
    return out;
  }

  private makeRoom(now: number): void {
    if (this.groups.size < this.opts.maxGroups) return;
    let idlest: string | undefined;
    let oldest = now;
    for (const [slot, g] of this.groups) {
      if (g.lastTs <= oldest) {
        oldest = g.lastTs;
        idlest = slot;
      }
    }
    this.groups.delete(idlest ?? this.groups.keys().next().value!);
  }
}
