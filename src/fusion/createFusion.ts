import { EVIDENCE_FAMILIES, type EvidenceFamily } from '../../detectors/types.ts';
import { logistic } from './logistic.ts';
import { clamp01, noisyOr } from './noisyOr.ts';
import type { FusionConfig } from './fusionSchema.ts';

/** What fusion needs to know of a detector. */
export interface FusedDetector {
  readonly name: string;
  readonly kind?: 'rate' | 'behaviour';
  /** Default: `rate` for rate detectors, else `output`. */
  readonly family?: EvidenceFamily;
  /** The whole score is an extraction-specific signature. */
  readonly signature?: boolean;
}

/** Why a key's risk is what it is, beyond the scores themselves. */
export interface FusionAssessment {
  risk: number;
  /**
   * The risk was held: one family of evidence and no extraction signature. Below truncate, or below
   * `countOnce.holdBelow` (default throttle) when what was held is evidence of `countOnce.holdFamilies`.
   */
  capped: boolean;
  /** The level `capped` holds a risk below. */
  heldBelow: 'throttle' | 'truncate';
  /**
   * The risk with an uncorroborated one held below truncate only (equal to `risk` unless evidence of
   * `holdFamilies` was held lower): how strongly the key's evidence marks it, whether or not it is
   * enforced. Key succession remembers a key at this risk, since a fresh key's link to it is itself a
   * signature.
   */
  marked: number;
  /** Group evidence was left out: the key has no evidence of its own. */
  groupWithheld: boolean;
  /** Families whose strongest member reached the support score. */
  supporting: EvidenceFamily[];
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
  /**
   * `signature`: each detector's signature part of its score (see `DetectorOutput.signature`); by default a signature detector's whole score.
   * `carried`: a signature from outside the key's detectors, the risk a key carries over as another key's successor (`KeySuccession`).
   */
  risk(scores: ArrayLike<number>, signature?: ArrayLike<number>, carried?: number): number;
  /** The same risk, with the reasons fusion adds to it. The returned object is reused by the next call. */
  assess(scores: ArrayLike<number>, signature?: ArrayLike<number>, carried?: number): FusionAssessment;
}

/** The config sections fusion reads. */
export interface FusionSettings {
  fusion: FusionConfig;
  /** Each detector's section (`weight` is read: the noisy-OR weight and the rate cap). */
  detectors: Readonly<Record<string, unknown>>;
  /** The ladder's thresholds: `countOnce` defaults to them (support at throttle, own evidence at observe, cap below truncate). */
  policy?: { thresholds: { observe: number; throttle: number; truncate: number } };
}

/** Indices in `EVIDENCE_FAMILIES` of the behavioural families, in that order. */
const BEHAVIOUR_FAMILIES: readonly number[] = EVIDENCE_FAMILIES.flatMap((f, i) => (f === 'rate' ? [] : [i]));
const CROSS_KEY = EVIDENCE_FAMILIES.indexOf('cross-key');

/**
 * Builds the configured fusion for these detectors (in the order their
 * scores come). Behavioural detectors are combined by the configured method:
 *
 * - `noisy-or`: 1 − Π (1 − wᵢ·sᵢ) with wᵢ = `detectors.<name>.weight`;
 * - `logistic`: σ(bias + Σ wᵢ·sᵢ) with wᵢ = `fusion.weights.<name>`.
 *
 * With `fusion.countOnce.enabled` (the default) the product or sum runs
 * over evidence families, not detectors: within a family only the strongest
 * member speaks, because detectors of one family restate one fact (a key
 * whose queries sit in a minority class gets a divergent class mix, low
 * entropy and small margins at once). Then the risk is held below truncate
 * unless an extraction-specific signature or two independent families reach
 * the support score; what output statistics and group evidence alone give
 * is held lower, below `countOnce.holdBelow` (default throttle), since honest
 * users show them too: it is reported, not acted on. Group (cross-key)
 * evidence counts for a member only when the member has evidence of its own.
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
  const once = fusion.countOnce;
  const thresholds = settings.policy?.thresholds;
  const rules: CountOnceRules | null = once.enabled
    ? {
        families: Int32Array.from(detectors, (d, i) => EVIDENCE_FAMILIES.indexOf(isRate[i] ? 'rate' : (d.family ?? 'output'))),
        signature: detectors.map((d) => d.signature === true),
        support: once.support ?? thresholds?.throttle ?? 0.5,
        ownEvidence: once.ownEvidence ?? thresholds?.observe ?? 0.3,
        groupCorroborates: once.groupCorroborates,
        cap: Math.max(0, (thresholds?.truncate ?? 0.7) - CAP_MARGIN),
        holdBelow: once.holdBelow,
        hold: Math.max(0, (once.holdBelow === 'throttle' ? (thresholds?.throttle ?? 0.5) : (thresholds?.truncate ?? 0.7)) - CAP_MARGIN),
        held: detectors.map((d, i) => !isRate[i] && once.holdFamilies.includes((d.family ?? 'output') as (typeof once.holdFamilies)[number])),
      }
    : null;
  return new FamilyFusion(fusion.method, weights, isRate, combine, rules);
}

/** How far below the threshold an uncorroborated risk is held (printed risks have four decimals). */
const CAP_MARGIN = 1e-4;

interface CountOnceRules {
  /** Per detector, its family's index in `EVIDENCE_FAMILIES`. */
  families: Int32Array;
  signature: boolean[];
  support: number;
  ownEvidence: number;
  groupCorroborates: boolean;
  /** Just below truncate: what an uncorroborated risk never reaches, enforced or not. */
  cap: number;
  holdBelow: 'throttle' | 'truncate';
  /** Just below `holdBelow`'s threshold: what uncorroborated evidence of `holdFamilies` is enforced at, at most. */
  hold: number;
  /** Per detector: its family is one of `holdFamilies`. */
  held: boolean[];
}

class FamilyFusion implements Fusion {
  private readonly behaviour: Float64Array;
  /** Each family's strongest member's score, the others 0. */
  private readonly kept: Float64Array;
  /** `kept` without the members of `holdFamilies`. */
  private readonly unheld: Float64Array;
  /** The risk `countOnce` enforces (≤ the one it returns, which is what the evidence marks). */
  private enforced = 0;
  private readonly assessment: FusionAssessment = { risk: 0, capped: false, heldBelow: 'truncate', marked: 0, groupWithheld: false, supporting: [] };
  /** Per family (index in `EVIDENCE_FAMILIES`): the index of its strongest member in the current call (-1: none). */
  private readonly strongest = new Int32Array(EVIDENCE_FAMILIES.length);

  constructor(
    readonly method: FusionConfig['method'],
    readonly weights: Float64Array,
    private readonly isRate: readonly boolean[],
    private readonly combine: (behaviourScores: Float64Array) => number,
    private readonly rules: CountOnceRules | null,
  ) {
    this.behaviour = new Float64Array(weights.length);
    this.kept = new Float64Array(weights.length);
    this.unheld = new Float64Array(weights.length);
  }

  risk(scores: ArrayLike<number>, signature?: ArrayLike<number>, carried = 0): number {
    return this.assess(scores, signature, carried).risk;
  }

  assess(scores: ArrayLike<number>, signature?: ArrayLike<number>, carried = 0): FusionAssessment {
    const a = this.assessment;
    a.capped = false;
    a.groupWithheld = false;
    a.supporting.length = 0;
    const rules = this.rules;
    for (let d = 0; d < scores.length; d++) this.behaviour[d] = this.isRate[d] ? 0 : clamp01(scores[d]);
    let marked: number;
    let risk: number;
    if (rules === null) {
      risk = marked = this.combine(this.behaviour);
    } else {
      marked = this.countOnce(rules, signature, carried, a);
      risk = this.enforced;
    }
    for (let d = 0; d < scores.length; d++) {
      if (!this.isRate[d]) continue;
      const lift = clamp01(scores[d]) * this.weights[d];
      risk = Math.max(risk, lift);
      marked = Math.max(marked, lift);
    }
    a.risk = risk;
    a.marked = marked;
    return a;
  }

  private countOnce(rules: CountOnceRules, signature: ArrayLike<number> | undefined, carried: number, a: FusionAssessment): number {
    const s = this.behaviour;
    const strongest = this.strongest;
    strongest.fill(-1);
    let own = 0;
    let signed = clamp01(carried);
    for (let d = 0; d < s.length; d++) {
      if (this.isRate[d]) continue;
      const family = rules.families[d];
      const best = strongest[family];
      if (best < 0 || s[d] * this.weights[d] > s[best] * this.weights[best]) strongest[family] = d;
      if (family !== CROSS_KEY) own = Math.max(own, s[d]);
      signed = Math.max(signed, signature ? clamp01(signature[d]) : rules.signature[d] ? s[d] : 0);
    }
    const group = strongest[CROSS_KEY];
    if (group >= 0 && s[group] > 0 && own < rules.ownEvidence) {
      strongest[CROSS_KEY] = -1;
      a.groupWithheld = true;
    }
    // Only each family's strongest member enters the combination.
    const kept = this.kept;
    kept.fill(0);
    let corroborating = 0;
    for (const family of BEHAVIOUR_FAMILIES) {
      const d = strongest[family];
      if (d < 0) continue;
      kept[d] = s[d];
      if (!(s[d] >= rules.support)) continue;
      a.supporting.push(EVIDENCE_FAMILIES[family]);
      // Group evidence raises the risk but cannot be the second family: the member's own families must corroborate.
      if (rules.groupCorroborates || family !== CROSS_KEY) corroborating++;
    }
    const risk = this.combine(kept);
    this.enforced = risk;
    if (!(signed < rules.support && corroborating < 2 && risk > rules.hold)) return risk;
    // Uncorroborated: marked below truncate; what the other families give alone is enforced as it is, what holdFamilies add only up to the hold.
    const marked = Math.min(risk, rules.cap);
    const unheld = this.unheld;
    for (let d = 0; d < kept.length; d++) unheld[d] = rules.held[d] ? 0 : kept[d];
    this.enforced = Math.min(marked, Math.max(rules.hold, this.combine(unheld)));
    a.capped = this.enforced < risk;
    a.heldBelow = this.enforced < marked ? rules.holdBelow : 'truncate';
    return marked;
  }

}
