import type { Redis } from 'ioredis';
import type { Counter, Registry } from 'prom-client';
import { type Decision, type Level, levelRank } from '../contract.ts';
import { decisionFromHash, decisionRedisKey, parseDecisionMessage } from '../sinks/RedisDecisionStore.ts';
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

/** Narrow logger (pino satisfies it). */
export interface ReaderLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface DecisionReaderOptions {
  /** probewatch config `redis.keyPrefix`. */
  keyPrefix: string;
  /** probewatch config `redis.decisionChannel`. */
  channel: string;
  /**
   * What to answer once the store has been unreachable for `unavailableAfterMs`:
   * `open` — decisions still in force from the cache, otherwise allow;
   * `closed` — at least `closedLevel` for every key.
   */
  onUnavailable?: 'open' | 'closed';
  closedLevel?: Level;
  /** Grace: how long a lost connection is bridged by the cache before `onUnavailable` applies. */
  unavailableAfterMs?: number;
  /** PING interval on the subscription connection; an unanswered PING for the grace counts as a lost connection. */
  heartbeatMs?: number;
  /** Reconnect wait (doubling per attempt up to this much) and wait between failed snapshot loads. */
  reconnectMaxMs?: number;
  /** SCAN COUNT hint for the snapshot. */
  scanCount?: number;
  /** Name of the subscription connection (CLIENT LIST), e.g. to tell gateways apart. */
  connectionName?: string;
  now?: () => number;
  registry?: Registry;
  logger?: ReaderLogger;
}

/** What the reader has answered and seen. */
export interface DecisionReaderCounts {
  answers: number;
  /** Answers given while the store was unavailable, under `onUnavailable: 'open'`. */
  failedOpen: number;
  /** Answers given while the store was unavailable, under `onUnavailable: 'closed'`. */
  failedClosed: number;
  /** Answers from the cache while the connection was down but within the grace. */
  stale: number;
  /** Decision notifications applied. */
  messages: number;
  /** Notifications that were not a Decision. */
  invalidMessages: number;
  /** Snapshots loaded (the first one and one after every reconnect). */
  snapshots: number;
  cached: number;
}

/** How often lapsed decisions are swept from the cache. */
const SWEEP_EVERY_MS = 60_000;

const ALLOW: GatewayDecision = Object.freeze({ level: 'allow', shadow: false, enforce: 'allow', expiresAt: null, reason: '', source: 'default' });
const FAIL_OPEN: GatewayDecision = Object.freeze({ ...ALLOW, reason: 'decision store unavailable', source: 'fail-open' });

function answerOf(d: Decision): GatewayDecision {
  return Object.freeze({ level: d.level, shadow: d.shadow, enforce: d.shadow ? 'allow' : d.level, expiresAt: d.expires_at, reason: d.reason, source: 'decision' });
}

/** Escapes Redis glob characters so a key prefix matches only itself. */
function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * The gateway's view of probewatch's decisions: a local map answering
 * `decisionFor(apiKey)` synchronously, kept fresh from Redis. It subscribes
 * to the decision channel first and only then loads a snapshot of the
 * decision hashes (SCAN + pipelined HGETALL), so no change can fall between
 * the two: a key notified while the snapshot loads keeps the notified
 * decision (it is the newer one). After a lost connection it resubscribes
 * and loads a fresh snapshot, as notifications sent meanwhile are gone.
 * Decisions carry their expiry and lapse locally, with or without Redis.
 *
 * The reader opens its own subscription connection (`redis.duplicate()`);
 * the client passed in serves the snapshot reads and stays the caller's.
 */
export class DecisionReader implements DecisionSource {
  private cache = new Map<string, GatewayDecision>();
  /** Keys notified during the snapshot in progress; undefined when none is loading. */
  private touched: Set<string> | undefined;
  /** When the reader last lost its fresh view (or started without one); undefined while fresh. */
  private downSince: number | undefined;
  /** Bumped on every (re)connection and close, so a stale snapshot load is discarded. */
  private generation = 0;
  private sub: Redis | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private pingSentAt: number | undefined;
  private lastSweep = 0;
  private closed = false;
  private firstSync!: Promise<void>;
  private resolveFirstSync!: () => void;
  private readonly now: () => number;
  private readonly graceMs: number;
  private readonly failOpen: boolean;
  private readonly closedAnswer: GatewayDecision;
  private readonly closedRank: number;
  private readonly counts = { answers: 0, failedOpen: 0, failedClosed: 0, stale: 0, messages: 0, invalidMessages: 0, snapshots: 0 };
  private readonly metrics?: { failedOpen: Counter; failedClosed: Counter; snapshots: Counter };

  constructor(
    private readonly redis: Redis,
    private readonly opts: DecisionReaderOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.graceMs = opts.unavailableAfterMs ?? 3_000;
    this.failOpen = (opts.onUnavailable ?? 'open') === 'open';
    const closedLevel = opts.closedLevel ?? 'block';
    this.closedRank = levelRank(closedLevel);
    this.closedAnswer = Object.freeze({ level: closedLevel, shadow: false, enforce: closedLevel, expiresAt: null, reason: 'decision store unavailable', source: 'fail-closed' });
    this.firstSync = new Promise((resolve) => (this.resolveFirstSync = resolve));
    if (opts.registry) {
      const r = opts.registry;
      this.metrics = {
        failedOpen: sdkCounter(r, 'probewatch_gateway_decisions_failed_open_total', 'Decision answers given while the decision store was unavailable, failing open'),
        failedClosed: sdkCounter(r, 'probewatch_gateway_decisions_failed_closed_total', 'Decision answers given while the decision store was unavailable, failing closed'),
        snapshots: sdkCounter(r, 'probewatch_gateway_decision_snapshots_total', 'Decision snapshots loaded from Redis (start and every reconnect)'),
      };
      sdkGauge(r, 'probewatch_gateway_decisions_cached', 'Decisions held in the gateway cache', () => this.cache.size);
      sdkGauge(r, 'probewatch_gateway_decision_store_available', '1 while the gateway has a fresh view of the decision store', () => (this.available ? 1 : 0));
    }
  }

  /**
   * The decision for `apiKey` now: synchronous, from memory. An expired
   * decision is allow. Once the store has been unreachable longer than the
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

  /** True while subscribed and synced, or disconnected for less than the grace. */
  get available(): boolean {
    return this.downSince === undefined || this.now() - this.downSince < this.graceMs;
  }

  /** True only while subscribed with a snapshot loaded since the last (re)connection. */
  get fresh(): boolean {
    return this.downSince === undefined;
  }

  counters(): DecisionReaderCounts {
    return { ...this.counts, cached: this.cache.size };
  }

  /**
   * Connects, subscribes and loads the first snapshot. Resolves true once
   * synced, or false when the grace passed first (the reader keeps trying
   * in the background and `onUnavailable` applies meanwhile). Never rejects
   * for an unreachable Redis.
   */
  async start(): Promise<boolean> {
    if (this.sub) throw new Error('DecisionReader already started');
    this.downSince = this.now();
    const reconnectMaxMs = this.opts.reconnectMaxMs ?? 1_000;
    const sub = this.redis.duplicate({
      // Resubscribing is done here, awaited, before each snapshot: ioredis' own resubscribe is not awaited.
      autoResubscribe: false,
      lazyConnect: true,
      connectionName: this.opts.connectionName ?? 'probewatch-decision-reader',
      maxRetriesPerRequest: null,
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), reconnectMaxMs),
    });
    this.sub = sub;
    sub.on('error', () => {
      // Reported through 'close'; ioredis raises one error per reconnect attempt.
    });
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.opts.channel) this.onMessage(message);
    });
    sub.on('ready', () => void this.onReady());
    sub.on('close', () => this.onLost('connection closed'));
    sub.connect().catch(() => {
      // Retried by the retry strategy; the grace and onUnavailable cover the wait.
    });
    const heartbeatMs = this.opts.heartbeatMs ?? 1_000;
    this.heartbeat = setInterval(() => this.beat(), heartbeatMs);
    this.heartbeat.unref();
    let synced = false;
    void this.firstSync.then(() => (synced = true));
    // Timers and the clock may disagree by a millisecond: past the grace, wait (briefly) until the clock agrees it is over.
    const deadline = performance.now() + this.graceMs;
    for (;;) {
      const left = deadline - performance.now();
      if (synced || (left <= 0 && (!this.available || left < -100))) break;
      await Promise.race([this.firstSync, new Promise((r) => setTimeout(r, Math.max(1, left)).unref())]);
    }
    return synced;
  }

  /** Stops listening and closes the subscription connection (not the client passed in). */
  async close(): Promise<void> {
    this.closed = true;
    this.generation++;
    if (this.heartbeat) clearInterval(this.heartbeat);
    const sub = this.sub;
    if (!sub) return;
    sub.removeAllListeners('ready');
    sub.removeAllListeners('close');
    try {
      if (sub.status === 'ready') await sub.quit();
      else sub.disconnect();
    } catch {
      sub.disconnect();
    }
  }

  private onMessage(message: string): void {
    const d = parseDecisionMessage(message);
    if (!d) {
      this.counts.invalidMessages++;
      return;
    }
    this.counts.messages++;
    this.apply(d);
    this.touched?.add(d.api_key);
  }

  private apply(d: Decision): void {
    if (d.expires_at <= this.now()) this.cache.delete(d.api_key);
    else this.cache.set(d.api_key, answerOf(d));
  }

  private onLost(why: string): void {
    if (this.closed) return;
    this.generation++;
    this.touched = undefined;
    this.pingSentAt = undefined;
    if (this.downSince === undefined) {
      this.downSince = this.now();
      this.opts.logger?.warn({ channel: this.opts.channel, why }, 'decision store connection lost');
    }
  }

  /** On every (re)connection: subscribe, wait for the confirmation, then load the snapshot. */
  private async onReady(): Promise<void> {
    const gen = ++this.generation;
    const sub = this.sub!;
    const waitMs = this.opts.reconnectMaxMs ?? 1_000;
    while (!this.closed && gen === this.generation) {
      try {
        await sub.subscribe(this.opts.channel);
        if (gen !== this.generation) return;
        this.touched = new Set();
        const snapshot = await this.loadSnapshot();
        if (gen !== this.generation || this.closed) return;
        this.install(snapshot);
        return;
      } catch (err) {
        if (gen !== this.generation || this.closed) return;
        this.opts.logger?.warn({ err: (err as Error).message }, 'decision snapshot failed; retrying');
        await new Promise((r) => setTimeout(r, waitMs).unref());
      }
    }
  }

  /** Swaps in the snapshot, keeping the entries of keys notified while it loaded (they are newer). */
  private install(snapshot: Map<string, Decision>): void {
    const touched = this.touched ?? new Set<string>();
    const next = new Map<string, GatewayDecision>();
    const now = this.now();
    for (const [key, d] of snapshot) if (!touched.has(key) && d.expires_at > now) next.set(key, answerOf(d));
    for (const key of touched) {
      const live = this.cache.get(key);
      if (live) next.set(key, live);
    }
    this.cache = next;
    this.touched = undefined;
    const wasDownFor = this.downSince === undefined ? 0 : now - this.downSince;
    this.downSince = undefined;
    this.counts.snapshots++;
    this.metrics?.snapshots.inc();
    this.opts.logger?.info({ channel: this.opts.channel, decisions: next.size, wasDownForMs: wasDownFor }, 'decision snapshot loaded');
    this.resolveFirstSync();
  }

  private async loadSnapshot(): Promise<Map<string, Decision>> {
    const prefix = decisionRedisKey(this.opts.keyPrefix, '');
    const match = `${globEscape(prefix)}*`;
    const out = new Map<string, Decision>();
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', match, 'COUNT', this.opts.scanCount ?? 1_000);
      cursor = next;
      if (keys.length === 0) continue;
      const pipe = this.redis.pipeline();
      for (const key of keys) pipe.hgetall(key);
      const results = (await pipe.exec()) ?? [];
      results.forEach(([err, hash], i) => {
        if (err) throw err;
        const apiKey = keys[i].slice(prefix.length);
        const d = decisionFromHash(apiKey, hash as Record<string, string>);
        if (d) out.set(apiKey, d);
      });
    } while (cursor !== '0');
    return out;
  }

  /** Drops lapsed decisions of keys nobody asked about since (a read drops its key's own). */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, answer] of this.cache) if (answer.expiresAt! <= now) this.cache.delete(key);
  }

  /** PINGs the subscription connection; one unanswered for the grace means the connection is gone. */
  private beat(): void {
    const sub = this.sub;
    if (!sub || this.closed) return;
    const now = this.now();
    if (now - this.lastSweep >= SWEEP_EVERY_MS) this.sweep(now);
    if (sub.status !== 'ready') return;
    const elapsed = performance.now();
    if (this.pingSentAt !== undefined) {
      const unanswered = elapsed - this.pingSentAt;
      if (unanswered >= this.graceMs) {
        this.onLost('heartbeat unanswered');
        // The view went stale when the unanswered PING was sent, not now.
        this.downSince = Math.min(this.downSince ?? now, now - unanswered);
        sub.disconnect(true);
      }
      return;
    }
    const sentAt = elapsed;
    this.pingSentAt = sentAt;
    sub.ping().then(
      () => {
        if (this.pingSentAt === sentAt) this.pingSentAt = undefined;
      },
      () => {},
    );
  }
}
