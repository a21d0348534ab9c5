import type { Level, RiskScore } from '../contract.ts';

/** A key's score at one of its calls (recorded: every call; live: every RiskScore published). */
export interface TimelineCall {
  ts: number;
  events_seen: number;
  risk: number;
  level: Level;
  detectors: Record<string, number>;
  shadow_level?: Level;
}

/** A step of the ladder, with the evidence quoted at that call. */
export interface TimelineChange {
  ts: number;
  events_seen: number;
  from: Level;
  to: Level;
  risk: number;
  evidence: string[];
}

/** A decision that concerned the key: the ladder's, or an analyst's on the key, its tenant or its network. */
export interface TimelineDecision {
  /** When it was issued (event time for the ladder's in a recorded stream; the topic's timestamp live); null when unknown. */
  issued_at: number | null;
  level: Level;
  by: 'ladder' | 'manual';
  /** What it names: `key <id>`, `tenant <name>`, `prefix <cidr>`. */
  subject: string;
  expires_at: number;
  /** expires_at − issued_at, when both are known. */
  ttl_ms: number | null;
  reason: string;
  shadow: boolean;
  /** Live only: still in force in the decision store now. */
  in_force?: boolean;
}

/** One key's story, as `probewatch explain` prints it (text, `--json`, `--html`). */
export interface KeyTimeline {
  api_key: string;
  /** `recorded` (a replayed stream) or `live` (the risk and decisions topics and Redis). */
  source: 'recorded' | 'live';
  /** The file replayed, or the topics read. */
  origin: string;
  detectors: string[];
  thresholds: Record<Exclude<Level, 'allow'>, number>;
  calls: TimelineCall[];
  changes: TimelineChange[];
  decisions: TimelineDecision[];
  /** The key's latest score (recorded: its final line; live: its snapshot or last RiskScore), with evidence. */
  latest?: RiskScore;
}

/** The ladder steps among consecutive scores (the first is a step from allow). */
export function changesOf(scores: readonly RiskScore[]): TimelineChange[] {
  const out: TimelineChange[] = [];
  let level: Level = 'allow';
  for (const s of scores) {
    if (s.level !== level) out.push({ ts: s.ts, events_seen: s.events_seen, from: level, to: s.level, risk: s.risk, evidence: s.evidence });
    level = s.level;
  }
  return out;
}

/** A call point from a RiskScore. */
export function callOf(s: RiskScore): TimelineCall {
  const c: TimelineCall = { ts: s.ts, events_seen: s.events_seen, risk: s.risk, level: s.level, detectors: { ...s.detectors } };
  if (s.shadow_level) c.shadow_level = s.shadow_level;
  return c;
}
