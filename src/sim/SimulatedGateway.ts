import type { Decision, InferenceEvent, Level } from '../contract.ts';
import { DecisionCache } from '../gateway/DecisionCache.ts';
import { Enforcer } from '../gateway/enforce/Enforcer.ts';
import { InMemoryTokenBucket } from '../gateway/enforce/InMemoryTokenBucket.ts';
import { answersAltered } from '../gateway/buildEvent.ts';

/** What one key's callers received from the gateway. */
export interface ServedCounts {
  untouched: number;
  /** Refused with 429 (throttle). */
  refused: number;
  truncated: number;
  deceived: number;
  blocked: number;
}

/**
 * The demo's gateway, in event time: it keeps the decisions probewatch
 * publishes in the SDK's `DecisionCache` and applies each key's level to
 * every call with the SDK's `Enforcer` (in-memory token bucket, default
 * settings), then emits the event as production does, with the status,
 * the probabilities it returned, the level it applied and, when it altered
 * the answer, the model's own.
 */
export class SimulatedGateway {
  private now = 0;
  private readonly cache = new DecisionCache({}, () => this.now);
  private readonly enforcer = new Enforcer({ bucket: new InMemoryTokenBucket() });
  private readonly served = new Map<string, ServedCounts>();

  /** Decisions reach the gateway (the Redis pub/sub path, here direct). */
  receive(decisions: readonly Decision[]): void {
    for (const d of decisions) this.cache.apply(d);
  }

  /** One call as the model answered it → the call as the gateway answered and reports it. */
  serve(call: InferenceEvent): InferenceEvent {
    this.now = call.ts;
    const level: Level = this.cache.decisionFor(call.api_key).enforce;
    const counts = this.counts(call.api_key);
    if (level === 'allow' || call.output_probs.length === 0) {
      counts.untouched++;
      return call;
    }
    const answer = this.enforcer.enforceSync({ apiKey: call.api_key, inputHash: call.input_hash, now: call.ts }, level, { probs: call.output_probs });
    if (answer.status === 429) counts.refused++;
    else if (answer.status === 403) counts.blocked++;
    else if (answer.level === 'truncate') counts.truncated++;
    else if (answer.level === 'deceive') counts.deceived++;
    else counts.untouched++;
    const served: InferenceEvent = {
      ...call,
      status: answer.status,
      output_label: answer.body?.label ?? -1,
      output_probs: answer.body?.probs ?? [],
      enforcement: answer.level === 'allow' ? null : answer.level,
    };
    // An answer the client got altered is reported with the model's own beside it (the SDK's `model` field).
    if (answersAltered(served.status, served.enforcement)) {
      served.model_label = call.output_label;
      served.model_probs = call.output_probs;
    }
    return served;
  }

  countsFor(apiKey: string): ServedCounts {
    return this.counts(apiKey);
  }

  private counts(apiKey: string): ServedCounts {
    let c = this.served.get(apiKey);
    if (!c) this.served.set(apiKey, (c = { untouched: 0, refused: 0, truncated: 0, deceived: 0, blocked: 0 }));
    return c;
  }
}
