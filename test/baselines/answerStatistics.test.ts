import { describe, expect, it } from 'vitest';
import { type AnswerStatistics, answerStatistics, modelLabel, modelProbs, usableAnswer } from '../../src/baselines/answerStatistics.ts';
import { makeEvent } from '../helpers/events.ts';

const stats = (): AnswerStatistics => ({ margin: 0, entropy: 0, label: 0 });

describe('answer statistics read the model, not the response', () => {
  const model = { output_label: 2, output_probs: [0.1, 0.2, 0.7] };

  it('reads an answer the client got unchanged (allow, observe, throttle)', () => {
    for (const enforcement of [null, 'allow', 'observe', 'throttle']) {
      const e = makeEvent({ ...model, enforcement });
      expect(usableAnswer(e)).toBe(true);
      expect(answerStatistics(e, stats()).margin).toBeCloseTo(0.5, 12);
    }
  });

  it('reads nothing of a truncated or deceived answer reported alone, nor of a refused call', () => {
    for (const e of [
      makeEvent({ output_label: 2, output_probs: [], enforcement: 'truncate' }),
      makeEvent({ output_label: 0, output_probs: [0.7, 0.2, 0.1], enforcement: 'deceive' }),
      makeEvent({ status: 429, enforcement: 'throttle' }),
    ]) {
      expect(usableAnswer(e)).toBe(false);
      const s = answerStatistics(e, stats());
      expect([s.margin, s.entropy, s.label]).toEqual([Number.NaN, Number.NaN, Number.NaN]);
    }
  });

  it("reads the model's own answer reported beside a deceived or truncated one", () => {
    const deceived = makeEvent({ output_label: 0, output_probs: [0.7, 0.2, 0.1], enforcement: 'deceive', model_label: 2, model_probs: model.output_probs });
    const truncated = makeEvent({ output_label: 2, output_probs: [], enforcement: 'truncate', model_label: 2, model_probs: model.output_probs });
    const plain = answerStatistics(makeEvent(model), stats());
    for (const e of [deceived, truncated]) {
      expect(usableAnswer(e)).toBe(true);
      expect([modelLabel(e), modelProbs(e)]).toEqual([2, model.output_probs]);
      expect(answerStatistics(e, stats())).toEqual(plain);
    }
    // A labels-only model: the label without probabilities.
    const labelOnly = makeEvent({ output_label: 1, enforcement: 'deceive', model_label: 0 });
    expect([modelLabel(labelOnly), modelProbs(labelOnly), answerStatistics(labelOnly, stats()).label]).toEqual([0, [], 0]);
  });
});
