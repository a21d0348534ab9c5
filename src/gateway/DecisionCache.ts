import type { Counter, Registry } from 'prom-client';
import { type Decision, decisionSlot, type Level, levelRank } from '../contract.ts';
import { Cidr } from '../net/Cidr.ts';
import { sdkCounter, sdkGauge } from './sdkMetrics.ts';

/** The answer for one key, as an enforcer reads it. */
export interface GatewayDecision {
  readonly level: Level;
  /** A shadow decision is reported but not enforced: `enforce` is then `allow`. */
  readonly shadow: boolean;
  /** The level to apply to this call. */
  readonly enforce: Level;
  /** Epoch ms until which the decision holds; null when no decision is in force. */
  readonly expiresAt: number | null;
  readonly reason: string;
  /**
   * `decision`: a decision in force; `manual`: an analyst's decision (on the
   * key, its tenant or its network) in force; `default`: none, allow; `fail-open`:
   * the store is unavailable and nothing is known, allow; `fail-closed`: the
   * store is unavailable, the configured closed level.
   */
  readonly source: 'decision' | 'manual' | 'default' | 'fail-open' | 'fail-closed';
}

/** Who else a call belongs to, for analysts' decisions on a tenant or an IP prefix. */
export interface CallContext {
  tenant?: string | null;
  clientIp?: string | null;
}

/** What an enforcer needs from a decision reader. */
export interface DecisionSource {
  decisionFor(apiKey: string, context?: CallContext): GatewayDecision;
}

/** What a gateway does while its decision feed is unavailable. */
export interface UnavailablePolicy {
  /**
   * What to answer once the feed has been unreachable for `unavailableAfterMs`:
   * `open` — decisions still in force from the cache, otherwise allow;
   * `closed` — at least `closedLevel` for every key.
   */
  onUnavailable?: 'open' | 'closed';
  closedLevel?: Level;
  /** Grace: how long a lost connection is bridged by the cache before `onUnavailable` applies. */
  unavailableAfterMs?: number;
}

/** What a decision cache has answered. */
export interface DecisionCacheCounts {
  answers: number;
  /** Answers given while the feed was unavailable, under `onUnavailable: 'open'`. */
  failedOpen: number;
  /** Answers given while the feed was unavailable, under `onUnavailable: 'closed'`. */
  failedClosed: number;
  /** Answers from the cache while the connection was down but within the grace. */
  stale: number;
  cached: number;
}

const ALLOW: GatewayDecision = Object.freeze({ level: 'allow', shadow: false, enforce: 'allow', expiresAt: null, reason: '', source: 'default' });
const FAIL_OPEN: GatewayDecision = Object.freeze({ ...ALLOW, reason: 'decision store unavailable', source: 'fail-open' });

function answerOf(d: Decision): GatewayDecision {
  if (d.manual) return Object.freeze({ level: d.level, shadow: false, enforce: d.level, expiresAt: d.expires_at, reason: d.reason, source: 'manual' });
  return Object.freeze({ level: d.level, shadow: d.shadow, enforce: d.shadow ? 'allow' : d.level, expiresAt: d.expires_at, reason: d.reason, source: 'decision' });
}

/** A manual decision on an IP prefix, with its network parsed once. */
interface PrefixEntry {
  cidr: Cidr;
  answer: GatewayDecision;
}

/**
 * The gateway's local copy of the decisions in force, shared by every feed
 * (Redis, the compacted Kafka topic): synchronous answers from memory,
 * decisions lapsing at their own expiry, and the fail-open / fail-closed
 * policy once the feed has been down past the grace, each such answer
 * counted (and exported when a registry is given).
 */
export class DecisionCache implements DecisionSource {
  /** Every decision in force by `decisionSlot`: the ladder's by key id, analysts' as `manual:<scope>:<subject>`. */
  private cache = new Map<string, GatewayDecision>();
  /** Manual decisions on keys, tenants and IP prefixes (also in `cache`), looked at only while there are any. */
  private manualKeys = new Map<string, GatewayDecision>();
  private tenants = new Map<string, GatewayDecision>();
  private prefixes = new Map<string, PrefixEntry>();
  /** When the feed last lost its fresh view (or started without one); undefined while fresh. */
  private downSince: number | undefined;
  /** How long a lost feed is bridged by the cache before `onUnavailable` applies. */
  readonly graceMs: number;
  private readonly failOpen: boolean;
  private readonly closedAnswer: GatewayDecision;
  private readonly closedRank: number;
  private readonly counts = { answers: 0, failedOpen: 0, failedClosed: 0, stale: 0 };
  private readonly metrics?: { failedOpen: Counter; failedClosed: Counter };

  constructor(
    policy: UnavailablePolicy,
    private readonly now: () => number,
    registry?: Registry,
  ) {
    this.graceMs = policy.unavailableAfterMs ?? 3_000;
    this.failOpen = (policy.onUnavailable ?? 'open') === 'open';
    const closedLevel = policy.closedLevel ?? 'block';
    this.closedRank = levelRank(closedLevel);
    this.closedAnswer = Object.freeze({ level: closedLevel, shadow: false, enforce: closedLevel, expiresAt: null, reason: 'decision store unavailable', source: 'fail-closed' });
    if (registry) {
      this.metrics = {
        failedOpen: sdkCounter(registry, 'probewatch_gateway_decisions_failed_open_total', 'Decision answers given while the decision store was unavailable, failing open'),
        failedClosed: sdkCounter(registry, 'probewatch_gateway_decisions_failed_closed_total', 'Decision answers given while the decision store was unavailable, failing closed'),
      };
      sdkGauge(registry, 'probewatch_gateway_decisions_cached', 'Decisions held in the gateway cache', () => this.cache.size);
      sdkGauge(registry, 'probewatch_gateway_decision_store_available', '1 while the gateway has a fresh view of the decision store', () => (this.available ? 1 : 0));
    }
  }

  /**
   * The decision for `apiKey` now: synchronous, from memory. An expired
   * decision is allow. Once the feed has been unavailable longer than the
   * grace, `onUnavailable` decides and the answer is counted.
   */
  decisionFor(apiKey: string, context?: CallContext): GatewayDecision {
    this.counts.answers++;
    const now = this.now();
    const answer = this.resolve(apiKey, context, now);
    if (this.downSince === undefined) return answer ?? ALLOW;
    if (now - this.downSince < this.graceMs) {
      this.counts.stale++;
      return answer ?? ALLOW;
    }
    if (this.failOpen) {
      this.counts.failedOpen++;
      this.metrics?.failedOpen.inc();
      return answer ?? FAIL_OPEN;
    }
    this.counts.failedClosed++;
    this.metrics?.failedClosed.inc();
    return answer !== undefined && !answer.shadow && levelRank(answer.level) >= this.closedRank ? answer : this.closedAnswer;
  }

  /**
   * Analysts' decisions outrank the ladder's: a manual decision on the key
   * is the answer while it lasts. Manual decisions on the call's tenant or
   * network act on the group: block and throttle are floors under the key's
   * own decision, allow is an allowlist entry (the key's automatic decision
   * does not apply).
   */
  private resolve(apiKey: string, context: CallContext | undefined, now: number): GatewayDecision | undefined {
    if (this.manualKeys.size > 0) {
      const manual = this.live(`manual:key:${apiKey}`, now);
      if (manual) return manual;
    }
    const auto = this.live(apiKey, now);
    if (this.tenants.size === 0 && this.prefixes.size === 0) return auto;
    let floor: GatewayDecision | undefined;
    let allow: GatewayDecision | undefined;
    const consider = (group: GatewayDecision | undefined) => {
      if (!group || group.expiresAt! <= now) return;
      if (group.level === 'allow') allow ??= group;
      else if (!floor || levelRank(group.level) > levelRank(floor.level)) floor = group;
    };
    if (context?.tenant) consider(this.tenants.get(context.tenant));
    if (context?.clientIp) for (const p of this.prefixes.values()) if (p.cidr.contains(context.clientIp)) consider(p.answer);
    if (floor) return auto && !auto.shadow && levelRank(auto.level) > levelRank(floor.level) ? auto : floor;
    return allow ?? auto;
  }

  /** The decision in `slot`, dropping it once lapsed. */
  private live(slot: string, now: number): GatewayDecision | undefined {
    const answer = this.cache.get(slot);
    if (answer === undefined || answer.expiresAt! > now) return answer;
    this.forget(slot);
    return undefined;
  }

  private forget(slot: string): void {
    this.cache.delete(slot);
    if (slot.startsWith('manual:key:')) this.manualKeys.delete(slot.slice('manual:key:'.length));
    else if (slot.startsWith('manual:tenant:')) this.tenants.delete(slot.slice('manual:tenant:'.length));
    else if (slot.startsWith('manual:prefix:')) this.prefixes.delete(slot.slice('manual:prefix:'.length));
  }

  private remember(slot: string, d: Decision): void {
    // Group decisions are advisory: a member is raised only on its own evidence.
    if (d.group) return;
    const answer = answerOf(d);
    this.cache.set(slot, answer);
    if (!d.manual) return;
    if (d.scope === undefined || d.scope === 'key') this.manualKeys.set(d.api_key, answer);
    if (d.scope === 'tenant') this.tenants.set(d.api_key, answer);
    if (d.scope === 'prefix') {
      const cidr = Cidr.parse(d.api_key);
      if (cidr) this.prefixes.set(d.api_key, { cidr, answer });
    }
  }

  /** True while fresh, or unavailable for less than the grace. */
  get available(): boolean {
    return this.downSince === undefined || this.now() - this.downSince < this.graceMs;
  }

  /** True only while the feed is connected with a snapshot loaded since the last (re)connection. */
  get fresh(): boolean {
    return this.downSince === undefined;
  }

  /** When the view went stale (epoch ms), or undefined while fresh. */
  get staleSince(): number | undefined {
    return this.downSince;
  }

  get size(): number {
    return this.cache.size;
  }

  counters(): DecisionCacheCounts {
    return { ...this.counts, cached: this.cache.size };
  }

  /** Applies one decision (a delta): a lapsed one removes its entry (an analyst's removal is announced so). */
  apply(d: Decision): void {
    const slot = decisionSlot(d);
    if (d.expires_at <= this.now()) this.forget(slot);
    else this.remember(slot, d);
  }

  /**
   * Swaps in a whole snapshot (keyed by `decisionSlot`), keeping the entries
   * of `newer` slots (notified while it loaded), and marks the view fresh.
   * Returns how long it was stale.
   */
  install(snapshot: ReadonlyMap<string, Decision>, newer: ReadonlySet<string> = new Set()): number {
    const old = { cache: this.cache, tenants: this.tenants, prefixes: this.prefixes };
    this.cache = new Map();
    this.manualKeys = new Map();
    this.tenants = new Map();
    this.prefixes = new Map();
    const now = this.now();
    for (const [slot, d] of snapshot) if (!newer.has(slot) && d.expires_at > now) this.remember(slot, d);
    for (const slot of newer) {
      const live = old.cache.get(slot);
      if (!live) continue;
      this.cache.set(slot, live);
      if (slot.startsWith('manual:key:')) this.manualKeys.set(slot.slice('manual:key:'.length), live);
      const tenant = slot.startsWith('manual:tenant:') ? slot.slice('manual:tenant:'.length) : undefined;
      const prefix = slot.startsWith('manual:prefix:') ? slot.slice('manual:prefix:'.length) : undefined;
      if (tenant !== undefined) this.tenants.set(tenant, live);
      if (prefix !== undefined && old.prefixes.has(prefix)) this.prefixes.set(prefix, old.prefixes.get(prefix)!);
    }
    return this.markFresh();
  }

  /** The feed is connected and caught up again; returns how long it was stale. */
  markFresh(): number {
    const wasDownFor = this.downSince === undefined ? 0 : this.now() - this.downSince;
    this.downSince = undefined;
    return wasDownFor;
  }

  /** The feed lost its fresh view at `since` (default now); an earlier stale time is kept. Returns true when it was fresh until now. */
  markStale(since = this.now()): boolean {
    const wasFresh = this.downSince === undefined;
    this.downSince = Math.min(this.downSince ?? since, since);
    return wasFresh;
  }

  /** Drops lapsed decisions of keys nobody asked about since (a read drops its key's own). */
  sweep(): void {
    const now = this.now();
    for (const [slot, answer] of this.cache) if (answer.expiresAt! <= now) this.forget(slot);
  }
}
