import type { Registry } from 'prom-client';
import { type CallContext, DecisionCache, type DecisionCacheCounts, type DecisionSource, type GatewayDecision, type UnavailablePolicy } from './DecisionCache.ts';

/** What a decision feed has answered and seen. */
export interface DecisionFeedCounts extends DecisionCacheCounts {
  /** Decisions applied (notifications or topic messages). */
  messages: number;
  /** Messages that were not a Decision. */
  invalidMessages: number;
  /** Snapshots loaded: the first one, and one after every reconnect or restart. */
  snapshots: number;
}

export interface CachedDecisionSourceOptions extends UnavailablePolicy {
  now?: () => number;
  registry?: Registry;
}

/**
 * The part every decision feed shares: a `DecisionCache` answering
 * `decisionFor` synchronously from memory, its freshness, and the feed's
 * counts. Subclasses keep the cache fed (Redis, the compacted topic).
 */
export abstract class CachedDecisionSource implements DecisionSource {
  protected readonly cache: DecisionCache;
  protected readonly now: () => number;
  protected readonly counts = { messages: 0, invalidMessages: 0, snapshots: 0 };

  constructor(options: CachedDecisionSourceOptions) {
    this.now = options.now ?? Date.now;
    this.cache = new DecisionCache(options, this.now, options.registry);
  }

  /**
   * The decision for `apiKey` now: synchronous, from memory. An expired
   * decision is allow. Once the feed has been unavailable longer than the
   * grace, `onUnavailable` decides and the answer is counted. With the
   * call's tenant and client address, analysts' decisions on the tenant or
   * the address's network apply too.
   */
  decisionFor(apiKey: string, context?: CallContext): GatewayDecision {
    return this.cache.decisionFor(apiKey, context);
  }

  /** True while connected and synced, or disconnected for less than the grace. */
  get available(): boolean {
    return this.cache.available;
  }

  /** True only while connected with a snapshot loaded since the last (re)connection. */
  get fresh(): boolean {
    return this.cache.fresh;
  }

  counters(): DecisionFeedCounts {
    return { ...this.cache.counters(), ...this.counts };
  }
}
