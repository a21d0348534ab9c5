import type { InferenceEvent } from '../contract.ts';

/** An answer's statistics as the reference keeps them (NaN where the answer says nothing of the model). */
export interface AnswerStatistics {
  /** Top-1 minus top-2 probability. */
  margin: number;
  /** Entropy of the probabilities over log(classes), in [0,1]. */
  entropy: number;
  label: number;
}

/** Whether an answer's probabilities describe the model: a success not altered by an enforcement (truncated, deceived). */
export function usableAnswer(e: InferenceEvent): boolean {
  return e.status >= 200 && e.status < 300 && (e.enforcement === null || e.enforcement === 'allow' || e.enforcement === 'observe' || e.enforcement === 'throttle');
}

/**
 * Statistics of an answer that describes the model: a success whose
 * probabilities were not altered by an enforcement (truncated, deceived)
 * and has at least two classes. Otherwise NaN.
 */
export function answerStatistics(e: InferenceEvent, out: AnswerStatistics): AnswerStatistics {
  out.margin = Number.NaN;
  out.entropy = Number.NaN;
  out.label = Number.NaN;
  if (!usableAnswer(e)) return out;
  if (e.output_label >= 0) out.label = e.output_label;
  const p = e.output_probs;
  if (p.length < 2) return out;
  let top1 = Number.NEGATIVE_INFINITY;
  let top2 = Number.NEGATIVE_INFINITY;
  let h = 0;
  for (const v of p) {
    if (v > top1) {
      top2 = top1;
      top1 = v;
    } else if (v > top2) top2 = v;
    if (v > 0) h -= v * Math.log(v);
  }
  out.margin = top1 - top2;
  out.entropy = h / Math.log(p.length);
  return out;
}
