import { logistic } from './logistic.ts';
import { noisyOr } from './noisyOr.ts';
import type { FusionConfig } from './fusionSchema.ts';

/** What fusion needs to know of a detector. */
export interface FusedDetector {
  readonly name: string;
  readonly kind?: 'rate' | 'behaviour';
}

/** One key's detector scores (in detector order) → its risk in [0,1]. */
export interface Fusion {
  readonly method: FusionConfig['method'];
  /**
   * What multiplies each detector's score: its noisy-OR weight or logistic
   * coefficient, or for a rate detector the cap on the risk it alone can
   * give. RiskScore evidence ranks detectors by weight × score.
   */
  readonly weights: Float64Array;
  risk(scores: ArrayLike<number>): number;
}

/** The config sections fusion reads. */
export interface FusionSettings {
  fusion: FusionConfig;
  /** Each detector's section (`weight` is read: the noisy-OR weight and the rate cap). */
  detectors: Readonly<Record<string, unknown>>;
}

/**
 * Builds the configured fusion for these detectors (in the order their
 * scores come). Behavioural detectors are combined by the configured method:
 *
 * - `noisy-or`: 1 − Π (1 − wᵢ·sᵢ) with wᵢ = `detectors.<name>.weight`;
 * - `logistic`: σ(bias + Σ wᵢ·sᵢ) with wᵢ = `fusion.weights.<name>`.
 *
 * Rate detectors (volume) are left out of that combination under both
 * methods and only lift the risk to their own weighted score,
 * `detectors.<name>.weight` × score, so volume alone justifies throttling
 * but never compounds into truncation. The logistic form does not subsume
 * that rule: a volume term in the sum would add to the log-odds of every
 * behavioural score, so an honest key at its rate limit with a mild
 * behavioural score would be pushed past levels neither signal reaches
 * alone — exactly what the rule forbids.
 */
export function createFusion(settings: FusionSettings, detectors: readonly FusedDetector[]): Fusion {
  const isRate = detectors.map((d) => d.kind === 'rate');
  const { fusion } = settings;
  const weights = Float64Array.from(detectors, (d, i) =>
    fusion.method === 'logistic' && !isRate[i] ? (fusion.weights[d.name] ?? 0) : ((settings.detectors[d.name] as { weight?: number } | undefined)?.weight ?? 1),
  );
  const bias = fusion.bias ?? 0;
  const combine = fusion.method === 'logistic' ? (s: Float64Array) => logistic(s, weights, bias) : (s: Float64Array) => noisyOr(s, weights);
  return new RateLiftedFusion(fusion.method, weights, isRate, combine);
}

class RateLiftedFusion implements Fusion {
  private readonly behaviour: Float64Array;

  constructor(
    readonly method: FusionConfig['method'],
    readonly weights: Float64Array,
    private readonly isRate: readonly boolean[],
    private readonly combine: (behaviourScores: Float64Array) => number,
  ) {
    this.behaviour = new Float64Array(weights.length);
  }

  risk(scores: ArrayLike<number>): number {
    for (let d = 0; d < scores.length; d++) this.behaviour[d] = this.isRate[d] ? 0 : scores[d];
    let risk = this.combine(this.behaviour);
    for (let d = 0; d < scores.length; d++) if (this.isRate[d]) risk = Math.max(risk, scores[d] * this.weights[d]);
    return risk;
  }
}
