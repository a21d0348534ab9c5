import { z } from 'zod';
import { ProbewatchError } from '../../errors.ts';

const positive = z.number().positive();

const throttleSchema = z
  .object({
    /** The lower rate a throttled key gets, calls per minute. */
    ratePerMinute: positive.default(10),
    /** Calls a throttled key may make at once before the rate applies. */
    burst: z.number().int().min(1).default(10),
    /** Keys at truncate and deceive stay throttled too: a key never gains rate by escalating. */
    atHigherLevels: z.boolean().default(true),
    /** When the bucket store (Redis) fails: `open` answers the call, `closed` refuses it with 429. */
    onBucketError: z.enum(['open', 'closed']).default('open'),
  })
  .strict();

const truncateSchema = z
  .object({
    /** `top1`: the label only, no probabilities; `round`: probabilities rounded to `decimals`. */
    mode: z.enum(['top1', 'round']).default('top1'),
    decimals: z.number().int().min(0).max(6).default(2),
  })
  .strict();

/**
 * A per-key watermark on deceived answers (`watermarkScore` finds it in leaked answers). It is read from
 * the non-top probabilities, so it is strongest on label-preserving `reverse-sigmoid` answers; in the
 * misinformation modes the swapped true top dominates those values and it needs several times the answers.
 */
const watermarkSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Log-scale shift of each non-top probability (±strength). */
    strength: positive.max(2).default(0.3),
  })
  .strict();

const misinformationSchema = z
  .object({
    /** `adaptive-misinformation` only. τ: queries whose top probability is below it get the misinformation answer (the OOD signal); 1: every answer does. */
    tau: z.number().gt(0).max(1).default(0.5),
    /** ν: sharpness of the switch around τ (the paper's implementation uses 1000). */
    nu: positive.default(1000),
  })
  .strict();

const deceiveSchema = z
  .object({
    /**
     * `misinformation` (the default): every answer gets a keyed wrong top-1
     * (`keyedWrongClass`) — the key has been judged an attacker, and only a
     * label-changing answer spoils a surrogate trained on labels;
     * `reverse-sigmoid`: label-preserving perturbed probabilities (misleads
     * only attacks that fit the probabilities themselves);
     * `adaptive-misinformation`: misinforms only answers below the
     * confidence gate τ (see `adaptiveMisinformation`).
     */
    mode: z.enum(['misinformation', 'reverse-sigmoid', 'adaptive-misinformation']).default('misinformation'),
    /** β, the perturbation's magnitude (Lee et al. 2019; 1.0 as in IBM ART's reference implementation). */
    beta: positive.default(1),
    /** γ, its convergence parameter (0.1 as in IBM ART's reference implementation). */
    gamma: positive.default(0.1),
    /** σ of the keyed log-normal noise on the non-top probabilities (0: none). */
    noise: z.number().min(0).max(2).default(0.3),
    watermark: watermarkSchema.prefault({}),
    misinformation: misinformationSchema.prefault({}),
  })
  .strict();

/**
 * The gateway's enforcement settings, every key optional (the example
 * gateway reads them from YAML). Defaults: throttle 10/min with a burst of
 * 10 (kept at truncate and deceive), truncate to the top-1 label, deceive
 * with a keyed wrong class on every answer, no watermark.
 */
export const enforcementOptionsSchema = z
  .object({
    throttle: throttleSchema.prefault({}),
    truncate: truncateSchema.prefault({}),
    deceive: deceiveSchema.prefault({}),
  })
  .strict();

export type EnforcementSettings = z.output<typeof enforcementOptionsSchema>;
export type EnforcementSettingsInput = z.input<typeof enforcementOptionsSchema>;

function describe(issue: z.core.$ZodIssue): string {
  const key = issue.path.length ? issue.path.join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') return `${key}: unknown key(s) ${(issue as { keys: string[] }).keys.map((k) => `'${k}'`).join(', ')}`;
  return `${key}: ${issue.message}`;
}

/**
 * Validates enforcement settings (e.g. a parsed YAML section) and returns
 * them with defaults, frozen. Errors (`PW_CONFIG`) name every bad key and
 * what was expected there.
 */
export function parseEnforcementOptions(doc: unknown, source = 'enforcement settings'): Readonly<EnforcementSettings> {
  const result = enforcementOptionsSchema.safeParse(doc ?? {});
  if (!result.success) throw new ProbewatchError('PW_CONFIG', `${source} are invalid:\n  ${result.error.issues.map(describe).join('\n  ')}`);
  return deepFreeze(result.data);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') for (const v of Object.values(value)) deepFreeze(v);
  return Object.freeze(value);
}
