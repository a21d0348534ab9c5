import { createHash, createSecretKey } from 'node:crypto';
import type { Level } from '../../../src/contract.ts';
import { hashInput } from '../../../src/gateway/buildEvent.ts';
import { Enforcer } from '../../../src/gateway/enforce/Enforcer.ts';
import type { EnforcementSettingsInput } from '../../../src/gateway/enforce/enforcementOptions.ts';
import { InMemoryTokenBucket } from '../../../src/gateway/enforce/InMemoryTokenBucket.ts';
import type { Answer } from './types.ts';

/** The call an answer belongs to. */
export interface EnforcedCall {
  apiKey: string;
  /** The standardised input (its hash fixes a deceived answer). */
  x: readonly number[];
  /** Event time of the call. */
  ts: number;
}

/**
 * What the gateway does to an answer at a key's current level (throttle,
 * truncate, deceive, block). Every answer an actor receives passes through
 * one of these.
 */
export interface Enforcement {
  /** False when no response is enforced (the unprotected world). */
  readonly active: boolean;
  readonly name: string;
  apply(level: Level, answer: Answer, call: EnforcedCall): Answer;
}

/** The unprotected world: every level returns the model's answer unchanged. */
export const noEnforcement: Enforcement = {
  active: false,
  name: 'none',
  apply: (_level, answer) => answer,
};

/**
 * The gateway SDK's `Enforcer` with `settings` (defaults as shipped), on an
 * in-memory token bucket in event time (`enforceSync`, `now` = the call's
 * event time). The deceive secret is derived from the seed (a simulated
 * deployment secret, like the gateway's HMAC key); input hashes are keyed
 * hashes of the standardised features. One instance per world: the
 * buckets are its state.
 */
export function sdkEnforcement(name: string, settings: EnforcementSettingsInput, seed: number): Enforcement {
  const secret = createSecretKey(createHash('sha256').update(`probewatch-bench-enforcement-${seed}`).digest());
  const enforcer = new Enforcer({ ...settings, bucket: new InMemoryTokenBucket(), watermarkKey: secret });
  return {
    active: true,
    name,
    apply(level, answer, call) {
      const inputHash = hashInput(JSON.stringify(call.x), secret);
      const out = enforcer.enforceSync({ apiKey: call.apiKey, inputHash, now: call.ts }, level, { probs: answer.probs });
      if (!out.body) return { probs: [], label: -1, status: out.status, retryAfterS: out.error?.retry_after_s };
      return { probs: out.body.probs, label: out.body.label, status: out.status };
    },
  };
}

/** A world with responses: a name for the tables and the SDK settings it enforces. */
export interface ResponseVariant {
  name: string;
  description: string;
  settings: EnforcementSettingsInput;
}

/**
 * The responses worlds every run measures beside the unprotected one: the
 * SDK's shipped defaults (deceive misinforms every answer), the same with
 * label-preserving Reverse Sigmoid at deceive (the other side of that
 * trade-off), and with Adaptive Misinformation's confidence gate at the
 * paper's τ.
 */
export const RESPONSE_VARIANTS: readonly ResponseVariant[] = [
  {
    name: 'responses',
    description: 'SDK defaults: throttle 10/min with burst 10 (kept at truncate and deceive), truncate to the top-1 label, deceive with a keyed wrong class on every answer (misinformation mode)',
    settings: {},
  },
  {
    name: 'responses + reverse sigmoid',
    description: 'the same, deceive label-preserving: Reverse Sigmoid (β 1, γ 0.1) and keyed noise, top-1 kept',
    settings: { deceive: { mode: 'reverse-sigmoid' } },
  },
  {
    name: 'responses + AM',
    description: 'the same, deceive in adaptive-misinformation mode (τ 0.5, ν 1000; changes the label of answers below the confidence gate only)',
    settings: { deceive: { mode: 'adaptive-misinformation' } },
  },
];
