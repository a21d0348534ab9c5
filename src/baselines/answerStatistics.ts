import type { InferenceEvent } from '../contract.ts';

/** An answer's statistics as the reference keeps them (NaN where the answer says nothing of the model). */
export interface AnswerStatistics {
  /** Top-1 minus top-2 probability. */
  margin: number;
  /** Entropy of the probabilities over log(classes), in [0,1]. */
  entropy: number;
  label: number;
}

const NO_PROBS: readonly number[] = Object.freeze([]);

/**
 * Whether the event says what the model answered: a success either not
 * altered by an enforcement (truncated, deceived) or carrying the model's
 * own answer beside the altered one (`model_label`).
 */
export function usableAnswer(e: InferenceEvent): boolean {
  if (e.status < 200 || e.status >= 300) return false;
  if (e.model_label !== undefined && e.model_label !== null) return true;
  return e.enforcement === null || e.enforcement === 'allow' || e.enforcement === 'observe' || e.enforcement === 'throttle';
}

/**
 * The model's top-1 for this call: the gateway's report of it when the
 * client got another answer, else the answer returned. Statistics of a
 * key's queries read the model, not what a response made of its answer.
 */
export function modelLabel(e: InferenceEvent): number {
  return e.model_label ?? e.output_label;
}

/** The model's probabilities for this call, as `modelLabel` chooses (may be empty). */
export function modelProbs(e: InferenceEvent): readonly number[] {
  return e.model_label === undefined || e.model_label === null ? e.output_probs : (e.model_probs ?? NO_PROBS);
}

/**
 * Statistics of an answer that describes the model (`usableAnswer`), read
 * from the model's own probabilities, when they have at least two classes.
 * Otherwise NaN.
 */
export function answerStatistics(e: InferenceEvent, out: AnswerStatistics): AnswerStatistics {
  out.margin = Number.NaN;
  out.entropy = Number.NaN;
  out.label = Number.NaN;
  if (!usableAnswer(e)) return out;
  const label = modelLabel(e);
  if (label >= 0) out.label = label;
  const p = modelProbs(e);
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
