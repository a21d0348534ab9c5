import type { Level } from '../contract.ts';
import type { Escalation } from '../pipeline/DetectionPipeline.ts';

/**
 * What a SIEM receives when a key steps up to the alert level or above:
 * one JSON object per escalation, the same on the webhook and the alerts
 * topic. It names the key by its id (never a secret) and carries the
 * evidence and the decision gateways were sent.
 */
export interface SiemAlert {
  type: 'probewatch.alert';
  version: 1;
  /** Stable for one escalation (key, event time, level), so a SIEM can drop a redelivered copy. */
  id: string;
  api_key: string;
  tenant: string | null;
  level: Level;
  previous_level: Level;
  risk: number;
  /** Event time of the call that raised the level (epoch ms), and the same as ISO-8601. */
  ts: number;
  time: string;
  events_seen: number;
  /** Each detector's score in [0,1]. */
  detectors: Record<string, number>;
  evidence: string[];
  decision: { level: Level; reason: string; expires_at: number; shadow: boolean };
}

export function toSiemAlert(e: Escalation): SiemAlert {
  const { score, decision } = e;
  return {
    type: 'probewatch.alert',
    version: 1,
    id: `${score.api_key}/${score.ts}/${score.level}`,
    api_key: score.api_key,
    tenant: e.tenant,
    level: score.level,
    previous_level: e.from,
    risk: score.risk,
    ts: score.ts,
    time: new Date(score.ts).toISOString(),
    events_seen: score.events_seen,
    detectors: { ...score.detectors },
    evidence: [...score.evidence],
    decision: { level: decision.level, reason: decision.reason, expires_at: decision.expires_at, shadow: decision.shadow },
  };
}
