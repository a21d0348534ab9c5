import type { Level } from '../../../src/contract.ts';

/** Who a call comes from, as the gateway sees it. */
export interface KeyIdentity {
  apiKey: string;
  tenant: string | null;
  clientIp: string;
}

/** What the API returned for one call (after the gateway applied the key's level). */
export interface Answer {
  /** Probabilities as returned (empty when the gateway returned none). */
  probs: number[];
  /** Top-1 class, -1 when none was returned. */
  label: number;
  /** HTTP status (429 when throttled). */
  status: number;
  /** On 429: the Retry-After the gateway sent, in seconds. */
  retryAfterS?: number;
}

/** The inference API an actor talks to. */
export interface QueryApi {
  /**
   * Sends standardised inputs `xs` from `key` at event times `times`
   * (milliseconds, non-decreasing, not before the caller's previous call).
   * Resolves once every call of the request is answered, in event time.
   */
  query(key: KeyIdentity, xs: readonly number[][], times: readonly number[]): Promise<Answer[]>;
}

export type ActorKind = 'benign' | 'attack';

/** One simulated client: a benign population member or an attacker campaign. */
export interface Actor {
  readonly id: string;
  /** The population (benign) or attack family the actor belongs to. */
  readonly population: string;
  readonly kind: ActorKind;
  readonly keys: readonly KeyIdentity[];
  run(api: QueryApi): Promise<void>;
}

/** One answered call, kept for attackers (their surrogates are trained on these). */
export interface Exchange {
  key: string;
  ts: number;
  x: number[];
  /** What the attacker received. */
  answer: Answer;
  /** What the model said before enforcement. */
  unprotected: Answer;
  level: Level;
}
