import type { Counter, Registry } from 'prom-client';
import { type Decision, type Level, levelRank } from '../contract.ts';
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
   * `decision`: a decision in force; `default`: none, allow; `fail-open`:
   * the store is unavailable and nothing is known, allow; `fail-closed`: the
   * store is unavailable, the configured closed level.
   */
  readonly source: 'decision' | 'default' | 'fail-open' | 'fail-closed';
}

/** What an enforcer needs from a decision reader. */
export interface DecisionSource {
  decisionFor(apiKey: string): GatewayDecision;
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
  return Object.freeze({ level: d.level, shadow: d.shadow, enforce: d.shadow ? 'allow' : d.level, expiresAt: d.expires_at, reason: d.reason, source: 'decision' });
}

/**
 * The gateway's local copy of the decisions in force, shared by every feed
 * (Redis, the compacted Kafka topic): synchronous answers from memory,
 * decisions lapsing at their own expiry, and the fail-open / fail-closed
 * policy once the feed has been down past the grace, each such answer
 * counted (and exported when a registry is given).
 */
export class DecisionCache implements DecisionSource {
  private cache = new Map<string, GatewayDecision>();
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
  decisionFor(apiKey: string): GatewayDecision {
    this.counts.answers++;
    const now = this.now();
    let answer = this.cache.get(apiKey);
    if (answer !== undefined && answer.expiresAt! <= now) {
      this.cache.delete(apiKey);
      answer = undefined;
    }
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

  /** Applies one decision (a delta): a lapsed one removes the key's entry. */
  apply(d: Decision): void {
    if (d.expires_at <= this.now()) this.cache.delete(d.api_key);
    else this.cache.set(d.api_key, answerOf(d));
  }

  /**
   * Swaps in a whole snapshot, keeping the entries of `newer` keys (notified
   * while it loaded), and marks the view fresh. Returns how long it was stale.
   */
  install(snapshot: ReadonlyMap<string, Decision>, newer: ReadonlySet<string> = new Set()): number {
    const next = new Map<string, GatewayDecision>();
    const now = this.now();
    for (const [key, d] of snapshot) if (!newer.has(key) && d.expires_at > now) next.set(key, answerOf(d));
    for (const key of newer) {
      const live = this.cache.get(key);
      if (live) next.set(key, live);
    }
    this.cache = next;
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
    for (const [key, answer] of this.cache) if (answer.expiresAt! <= now) this.cache.delete(key);
  }
}
