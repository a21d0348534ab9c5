import { z } from 'zod';
import { detectorKinds } from './detectorKinds.ts';
import { logit, sigmoid } from './logistic.ts';

/** The fusion methods: today's weighted noisy-OR, or a logistic model (fitted by `probewatch train`). */
export const FUSION_METHODS = ['noisy-or', 'logistic'] as const;

/**
 * The `fusion` config section. `noisy-or` (the default) reads each
 * detector's `detectors.<name>.weight`; `logistic` reads `bias` and one
 * non-negative coefficient per behavioural detector from `weights`. Under
 * either method a rate detector (volume) lifts risk only up to
 * `detectors.<name>.weight` × its score, so it has no logistic weight.
 */
export const fusionSchema = z
  .object({
    method: z.enum(FUSION_METHODS).default('noisy-or'),
    /** Logistic intercept: a key whose behavioural scores are all 0 has risk σ(bias). */
    bias: z.number().optional(),
    /** Logistic coefficient per behavioural detector: risk = σ(bias + Σ weightᵢ·scoreᵢ). */
    weights: z.record(z.string(), z.number().min(0, 'must be >= 0: a negative weight would let a key lower its risk by triggering that detector')).prefault({}),
    /**
     * Count each fact once: only the strongest detector of each evidence family
     * (rate, geometry, output, cross-key) enters the combination; reaching
     * truncate needs an extraction signature or two families at `support`;
     * group evidence reaches a member only with `ownEvidence` of its own.
     */
    countOnce: z
      .object({
        enabled: z.boolean().default(true),
        /** Score at which a family or a signature corroborates; default policy.thresholds.throttle. */
        support: z.number().min(0).max(1).optional(),
        /** A member's own (non-group) score needed before group evidence counts for it; default policy.thresholds.observe. */
        ownEvidence: z.number().min(0).max(1).optional(),
        /**
         * Whether group evidence may be the second family that lets a member reach truncate.
         * Off by default: a group's pooled class balance restates a member's own output statistics.
         */
        groupCorroborates: z.boolean().default(false),
        /**
         * The level the uncorroborated evidence of `holdFamilies` (no extraction signature, no second family at
         * support) is held below. `throttle` (the default): a key with only that evidence is observed, nothing
         * is enforced on it. `truncate`: it may be throttled but never have its answers altered. Uncorroborated
         * evidence of any other family is held below truncate only; rate evidence throttles on its own.
         */
        holdBelow: z.enum(['throttle', 'truncate']).default('throttle'),
        /**
         * The families `holdBelow` applies to. Output statistics (class mix, entropy, margins) say where a
         * user's data sit as much as how its queries were made: minority-class analysts, stratified validation
         * sets and batch scorers show them as thieves do. Group evidence pools its members' output statistics.
         * Input geometry (sweeps, offsets, off-manifold queries) says how queries were made.
         */
        holdFamilies: z.array(z.enum(['geometry', 'output', 'cross-key'])).default(['output', 'cross-key']),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((fusion, ctx) => {
    const kinds = detectorKinds();
    const behaviour = [...kinds].filter(([, k]) => k === 'behaviour').map(([name]) => name);
    for (const name of Object.keys(fusion.weights)) {
      const kind = kinds.get(name);
      if (kind === 'behaviour') continue;
      ctx.addIssue({
        code: 'custom',
        path: ['weights', name],
        message:
          kind === 'rate'
            ? `${name} is a rate detector: it is never summed into the logistic risk but lifts risk to detectors.${name}.weight × its score; remove this key`
            : `unknown detector '${name}'; expected one of ${behaviour.join(', ')}`,
      });
    }
    if (fusion.method === 'logistic' && fusion.bias === undefined) {
      ctx.addIssue({ code: 'custom', path: ['bias'], message: 'required when fusion.method is logistic: a number (σ(bias) is the risk of a key with no evidence)' });
    }
  });

export type FusionConfig = z.output<typeof fusionSchema>;

/** The parts of the whole config that the logistic fusion is checked against. */
interface FusionContext {
  fusion: FusionConfig;
  detectors: Record<string, unknown>;
  policy: { thresholds: { observe: number } };
}

/**
 * Cross-section checks for `fusion.method: logistic`: every enabled
 * behavioural detector has a weight (a detector left out would silently stop
 * counting), and a key with no evidence stays below `observe`.
 */
export function checkFusionAgainstConfig(config: FusionContext, ctx: z.RefinementCtx): void {
  const { fusion } = config;
  if (fusion.method !== 'logistic') return;
  for (const [name, kind] of detectorKinds()) {
    if (kind !== 'behaviour' || (config.detectors[name] as { enabled?: boolean } | undefined)?.enabled === false || name in fusion.weights) continue;
    ctx.addIssue({
      code: 'custom',
      path: ['fusion', 'weights', name],
      message: `required when fusion.method is logistic and detectors.${name} is enabled: a number >= 0 (run probewatch train, or set 0 to ignore it)`,
    });
  }
  const observe = config.policy.thresholds.observe;
  const quiet = sigmoid(fusion.bias ?? -Infinity);
  if (quiet >= observe) {
    ctx.addIssue({
      code: 'custom',
      path: ['fusion', 'bias'],
      message: `σ(${fusion.bias}) = ${quiet.toFixed(3)} is at or above policy.thresholds.observe (${observe}): every key would be observed with no evidence; expected a bias below ${logit(observe).toFixed(3)}`,
    });
  }
}
