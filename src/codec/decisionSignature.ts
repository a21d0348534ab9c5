import { type KeyObject, createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import type { Decision } from '../contract.ts';
import { ProbewatchError } from '../errors.ts';
import { readSecret } from '../readSecret.ts';

/** Environment variable (or `…_FILE`) holding the key probewatch signs decisions with and gateways verify them with. */
export const DECISION_KEY_ENV = 'PROBEWATCH_DECISION_KEY';

/** Kafka header carrying a decision's signature on the decisions topic. */
export const DECISION_SIGNATURE_HEADER = 'pw-signature';

/** RFC 2104 §3: a key shorter than the hash output (32 bytes for SHA-256) weakens the MAC. */
const MIN_KEY_BYTES = 32;

/** A decision as read from Redis or the topic, with the signature it carried (if any). */
export type SignedDecision = Decision & { sig?: string };

/**
 * The decision-signing key shared by probewatch and the gateways, from
 * `PROBEWATCH_DECISION_KEY` or `PROBEWATCH_DECISION_KEY_FILE`: raw UTF-8
 * bytes, or `hex:…` / `base64:…`, at least 32 bytes. `undefined` when
 * unset (decisions then go out unsigned). A `KeyObject` never prints its
 * bytes; errors name the variable, never the value.
 */
export function loadDecisionKey(env: Record<string, string | undefined>, name = DECISION_KEY_ENV): KeyObject | undefined {
  const raw = readSecret(env, name);
  if (raw === undefined) return undefined;
  let bytes: Buffer;
  if (raw.startsWith('hex:')) {
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(raw.slice(4))) throw new ProbewatchError('PW_CONFIG', `${name}: after "hex:" expected an even number of hex digits`);
    bytes = Buffer.from(raw.slice(4), 'hex');
  } else if (raw.startsWith('base64:')) {
    bytes = Buffer.from(raw.slice(7), 'base64');
  } else {
    bytes = Buffer.from(raw, 'utf8');
  }
  if (bytes.length < MIN_KEY_BYTES) throw new ProbewatchError('PW_CONFIG', `${name}: expected a key of at least ${MIN_KEY_BYTES} bytes, got ${bytes.length}`);
  return createSecretKey(bytes);
}

/**
 * Every field a gateway acts on, in a fixed order, normalised as readers
 * normalise them; JSON makes the encoding unambiguous. `manual` and `scope`
 * (analysts' decisions on a key, prefix or tenant) are covered when a
 * Decision carries them, so a signed key decision cannot be replayed as a
 * group one.
 */
function canonical(d: Decision): string {
  const fields = ['probewatch.decision.v1', d.api_key, d.level, d.reason, d.expires_at, d.shadow, d.shadow_level ?? null, d.manual === true, d.scope ?? 'key'];
  // Only group decisions carry the flag, so every other decision keeps the signature it had before groups existed.
  if (d.group === true) fields.push('group');
  return JSON.stringify(fields);
}

/** HMAC-SHA256 of the decision (hex). */
export function signDecision(key: KeyObject, d: Decision): string {
  return createHmac('sha256', key).update(canonical(d)).digest('hex');
}

/** True when `sig` is the decision's signature under `key` (constant-time comparison). */
export function verifyDecision(key: KeyObject, d: Decision, sig: string | undefined): boolean {
  if (typeof sig !== 'string' || !/^[0-9a-f]{64}$/.test(sig)) return false;
  return timingSafeEqual(Buffer.from(signDecision(key, d), 'hex'), Buffer.from(sig, 'hex'));
}

/** Why a decision was not applied: it carried no signature, or one that does not match. */
export type SignatureProblem = 'unsigned' | 'forged';

/** `undefined` when the decision may be applied (no key configured, or a valid signature). */
export function signatureProblem(key: KeyObject | undefined, d: SignedDecision): SignatureProblem | undefined {
  if (!key) return undefined;
  if (d.sig === undefined || d.sig === '') return 'unsigned';
  return verifyDecision(key, d, d.sig) ? undefined : 'forged';
}
