import type { KeyObject } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Counter, Registry } from 'prom-client';
import { type Decision, decisionSlot } from '../contract.ts';
import { decisionRedisKey, parseDecisionMessage, decisionFromHash, manualDecisionsRedisKey } from '../sinks/RedisDecisionStore.ts';
import type { UnavailablePolicy } from './DecisionCache.ts';
import { CachedDecisionSource, type DecisionFeedCounts } from './CachedDecisionSource.ts';
import { sdkCounter } from './sdkMetrics.ts';
import { globEscape } from '../state/redisGlob.ts';

export type { CallContext, DecisionSource, GatewayDecision } from './DecisionCache.ts';

/** Narrow logger (pino satisfies it). */
export interface ReaderLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface DecisionReaderOptions extends UnavailablePolicy {
  /** probewatch config `redis.keyPrefix`. */
  keyPrefix: string;
  /** probewatch config `redis.decisionChannel`. */
  channel: string;
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
  /**
   * The decision-signing key (`loadDecisionKey()`: PROBEWATCH_DECISION_KEY or
   * …_FILE). Set, unsigned and forged decisions are dropped and counted
   * (`probewatch_gateway_decisions_rejected_total`); unset, every well-formed
   * decision is applied.
   */
  signingKey?: KeyObject;
}

/** What the reader has answered and seen. */
export type DecisionReaderCounts = DecisionFeedCounts;

/** How often lapsed decisions are swept from the cache. */
const SWEEP_EVERY_MS = 60_000;


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
export class DecisionReader extends CachedDecisionSource {
  /** Keys notified during the snapshot in progress; undefined when none is loading. */
  private touched: Set<string> | undefined;
  /** Bumped on every (re)connection and close, so a stale snapshot load is discarded. */
  private generation = 0;
  private sub: Redis | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private pingSentAt: number | undefined;
  private lastSweep = 0;
  private closed = false;
  private firstSync!: Promise<void>;
  private resolveFirstSync!: () => void;
  private readonly snapshotsLoaded?: Counter;

  constructor(
    private readonly redis: Redis,
    private readonly opts: DecisionReaderOptions,
  ) {
    super(opts);
    this.firstSync = new Promise((resolve) => (this.resolveFirstSync = resolve));
    if (opts.registry) {
      this.snapshotsLoaded = sdkCounter(opts.registry, 'probewatch_gateway_decision_snapshots_total', 'Decision snapshots loaded from Redis (start and every reconnect)');
    }
  }

  /**
   * Connects, subscribes and loads the first snapshot. Resolves true once
   * synced, or false when the grace passed first (the reader keeps trying
   * in the background and `onUnavailable` applies meanwhile). Never rejects
   * for an unreachable Redis.
   */
  async start(): Promise<boolean> {
    if (this.sub) throw new Error('DecisionReader already started');
    this.cache.markStale();
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
    const deadline = performance.now() + this.cache.graceMs;
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
    if (!this.authentic(d)) return;
    this.counts.messages++;
    this.cache.apply(d);
    this.touched?.add(decisionSlot(d));
  }

  private onLost(why: string): void {
    if (this.closed) return;
    this.generation++;
    this.touched = undefined;
    this.pingSentAt = undefined;
    if (this.cache.markStale()) {
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
    const wasDownFor = this.cache.install(snapshot, this.touched);
    this.touched = undefined;
    this.counts.snapshots++;
    this.snapshotsLoaded?.inc();
    this.opts.logger?.info({ channel: this.opts.channel, decisions: this.cache.size, wasDownForMs: wasDownFor }, 'decision snapshot loaded');
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
        if (d && this.authentic(d)) out.set(apiKey, d);
      });
    } while (cursor !== '0');
    // Analysts' decisions: one hash, read whole.
    for (const json of Object.values(await this.redis.hgetall(manualDecisionsRedisKey(this.opts.keyPrefix)))) {
      const d = parseDecisionMessage(json);
      if (d?.manual && this.authentic(d)) out.set(decisionSlot(d), d);
    }
    return out;
  }

  /** PINGs the subscription connection; one unanswered for the grace means the connection is gone. */
  private beat(): void {
    const sub = this.sub;
    if (!sub || this.closed) return;
    const now = this.now();
    if (now - this.lastSweep >= SWEEP_EVERY_MS) {
      this.lastSweep = now;
      this.cache.sweep();
    }
    if (sub.status !== 'ready') return;
    const elapsed = performance.now();
    if (this.pingSentAt !== undefined) {
      const unanswered = elapsed - this.pingSentAt;
      if (unanswered >= this.cache.graceMs) {
        this.onLost('heartbeat unanswered');
        // The view went stale when the unanswered PING was sent, not now.
        this.cache.markStale(now - unanswered);
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
