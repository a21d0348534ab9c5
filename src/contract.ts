/**
 * The fixed interfaces of probewatch (DESIGN.md, "The event contract").
 * Gateways and other tools depend on these shapes; the Avro schemas in
 * `schemas/` are their wire form.
 */

/** The response ladder, mildest first. */
export const LEVELS = ['allow', 'observe', 'throttle', 'truncate', 'deceive', 'block'] as const;
export type Level = (typeof LEVELS)[number];

/** Position of a level on the ladder (allow = 0 … block = 5). */
export function levelRank(level: Level): number {
  return LEVELS.indexOf(level);
}

/** One inference call, as emitted by a gateway. */
export interface InferenceEvent {
  event_id: string;
  /** Event time at the gateway, epoch milliseconds. */
  ts: number;
  api_key: string;
  tenant: string | null;
  client_ip: string | null;
  model_id: string;
  /** HMAC-SHA256 or SHA-256 of the canonical input bytes (32 bytes). */
  input_hash: Buffer;
  input_sketch: number[];
  output_label: number;
  output_probs: number[];
  status: number;
  latency_ms: number;
  enforcement: string | null;
  /**
   * The model's own top-1 when the gateway returned another answer
   * (truncate, deceive); absent or null when the client got the model's
   * answer. With it, the output statistics keep measuring a key's queries
   * against the model while a response is in force.
   */
  model_label?: number | null;
  /** The model's own confidence vector in that case (may be empty for a labels-only model). */
  model_probs?: number[];
}

/** What probewatch publishes about a key. */
export interface RiskScore {
  api_key: string;
  ts: number;
  events_seen: number;
  risk: number;
  level: Level;
  detectors: Record<string, number>;
  evidence: string[];
  final?: boolean;
  /** Present when some detectors are in shadow mode: the risk and level with them counted. */
  shadow_risk?: number;
  shadow_level?: Level;
}

/** The level a gateway must apply to a key until `expires_at`. */
export interface Decision {
  api_key: string;
  level: Level;
  reason: string;
  expires_at: number;
  /** Published and counted, but no enforcer applies it. */
  shadow: boolean;
  /** Present when some detectors are in shadow mode: the level they would have decided. No enforcer applies it. */
  shadow_level?: Level;
  /** Present (true) on an analyst's decision: it outranks the ladder's decisions while it lasts. */
  manual?: boolean;
  /** What `api_key` names on a manual or group decision: a key (default), an IP prefix (CIDR), a tenant, or a geometry group. */
  scope?: DecisionScope;
  /**
   * Present (true) on a group decision: the level that a group's pooled evidence reached (a tenant, a
   * network prefix, keys of alike query geometry). Advisory: gateways do not apply it to the group's
   * members (a member is raised only on its own evidence); analysts see it, and make it a manual
   * decision on the tenant or prefix to enforce it.
   */
  group?: boolean;
}

/**
 * What a decision applies to: one key, every caller in an IP prefix, every key of a tenant, or (group
 * decisions only) the keys of one geometry group.
 */
export const DECISION_SCOPES = ['key', 'prefix', 'tenant', 'geometry'] as const;
export type DecisionScope = (typeof DECISION_SCOPES)[number];

/**
 * Where a decision lives among the decisions in force (its Redis entry, its
 * key on the compacted decisions topic, its slot in a gateway's cache): an
 * automatic decision under its key id, a manual one under
 * `manual:<scope>:<subject>`, a group decision under `group:<scope>:<subject>`,
 * so none replaces another.
 */
export function decisionSlot(d: Pick<Decision, 'api_key' | 'manual' | 'scope' | 'group'>): string {
  if (d.manual) return `manual:${d.scope ?? 'key'}:${d.api_key}`;
  return d.group ? `group:${d.scope ?? 'key'}:${d.api_key}` : d.api_key;
}

/** A message that could not be processed, with the reason. */
export interface DeadLetter {
  raw: Buffer;
  topic: string;
  partition: number;
  offset: string;
  error_code: string;
  message: string;
  ts: number;
  /** For PW_INVALID_EVENT: the rule broken (`InvalidEventReason`); null otherwise. */
  reason?: string | null;
}
