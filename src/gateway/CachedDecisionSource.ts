import type { KeyObject } from 'node:crypto';
import type { Counter, Registry } from 'prom-client';
import { type SignatureProblem, type SignedDecision, signatureProblem } from '../codec/decisionSignature.ts';
import { type CallContext, DecisionCache, type DecisionCacheCounts, type DecisionSource, type GatewayDecision, type UnavailablePolicy } from './DecisionCache.ts';
import { sdkCounter } from './sdkMetrics.ts';

/** What a decision feed has answered and seen. */
export interface DecisionFeedCounts extends DecisionCacheCounts {
  /** Decisions applied (notifications or topic messages). */
  messages: number;
  /** Messages that were not a Decision. */
  invalidMessages: number;
  /** Snapshots loaded: the first one, and one after every reconnect or restart. */
  snapshots: number;
  /** Decisions dropped because a signing key is configured and they carried no signature, or a wrong one. */
  rejected: Record<SignatureProblem, number>;
}

export interface CachedDecisionSourceOptions extends UnavailablePolicy {
  now?: () => number;
  registry?: Registry;
  /**
   * The key probewatch signs decisions with (`loadDecisionKey`, from
   * PROBEWATCH_DECISION_KEY or …_FILE). When set, a decision without a valid
   * HMAC-SHA256 signature is dropped and counted; when unset, every
   * well-formed decision is applied, so anyone who can write the store or
   * the topic can set a key's level.
   */
  signingKey?: KeyObject;
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
  private readonly rejected: Record<SignatureProblem, number> = { unsigned: 0, forged: 0 };
  private readonly rejectedMetric?: Counter<'reason'>;
  private readonly signingKey?: KeyObject;

  constructor(options: CachedDecisionSourceOptions) {
    this.now = options.now ?? Date.now;
    this.cache = new DecisionCache(options, this.now, options.registry);
    this.signingKey = options.signingKey;
    if (options.registry) {
      this.rejectedMetric = sdkCounter(options.registry, 'probewatch_gateway_decisions_rejected_total', 'Decisions dropped for a missing (unsigned) or wrong (forged) signature', ['reason']);
    }
  }

  /** False (and counted) when a signing key is configured and `d` is not signed with it. */
  protected authentic(d: SignedDecision): boolean {
    const problem = signatureProblem(this.signingKey, d);
    if (!problem) return true;
    this.rejected[problem]++;
    this.rejectedMetric?.inc({ reason: problem });
    return false;
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
    return { ...this.cache.counters(), ...this.counts, rejected: { ...this.rejected } };
  }
}
