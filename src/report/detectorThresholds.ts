import type { Config } from '../config/configSchema.ts';
import { LEVELS, type Level } from '../contract.ts';
import { type FusedDetector, createFusion } from '../fusion/createFusion.ts';

export type LadderStep = Exclude<Level, 'allow'>;

/**
 * Per detector and ladder step: the least score at which that detector
 * alone (all others at 0) takes the fused risk to the step's threshold
 * under `config` — where a threshold falls on the detector's own axis; null
 * when the detector alone never reaches it (its weight, or a rate
 * detector's cap, is too low). Found by bisection: fusion is monotone in
 * each score.
 */
export function detectorThresholds(config: Readonly<Config>, detectors: readonly FusedDetector[]): Record<string, Record<LadderStep, number | null>> {
  const fusion = createFusion({ fusion: config.fusion, detectors: config.detectors as Record<string, unknown>, policy: config.policy }, detectors);
  const scores = new Float64Array(detectors.length);
  const riskAt = (d: number, s: number) => {
    scores.fill(0);
    scores[d] = s;
    return fusion.risk(scores);
  };
  const out: Record<string, Record<LadderStep, number | null>> = {};
  detectors.forEach((det, d) => {
    const row = {} as Record<LadderStep, number | null>;
    for (const level of LEVELS.slice(1) as LadderStep[]) {
      const threshold = config.policy.thresholds[level];
      if (riskAt(d, 1) < threshold) {
        row[level] = null;
        continue;
      }
      let lo = 0;
      let hi = 1;
      for (let i = 0; i < 40; i++) {
        const mid = (lo + hi) / 2;
        if (riskAt(d, mid) >= threshold) hi = mid;
        else lo = mid;
      }
      row[level] = Math.round(hi * 1e4) / 1e4;
    }
    out[det.name] = row;
  });
  return out;
}
