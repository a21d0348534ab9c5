import { describe, expect, it } from 'vitest';
import { BatchStraightRuns, type StraightRunState } from '../../../detectors/shared/StraightRun.ts';
import { mulberry32 } from '../../../src/gateway/RandomProjection.ts';
import { packArray } from '../../../src/compute/packedVectors.ts';

const TEST = { straightDim: 8, straightCos: 0.995, straightRatio: 2.5 };

/** A what-if sweep of one record in even steps with turns, exact repeats, random queries and a change of width. */
function queries(): number[][] {
  const rand = mulberry32(7);
  const out: number[][] = [];
  let x = Array.from({ length: 12 }, () => rand());
  for (let turn = 0; turn < 4; turn++) {
    const dir = Array.from({ length: 12 }, () => rand() - 0.5);
    for (let s = 0; s < 6; s++) {
      x = x.map((v, j) => v + 0.1 * dir[j]);
      out.push(x);
      if (s === 3) out.push(x);
    }
    out.push(Array.from({ length: 12 }, () => rand()));
  }
  out.push([0.5, 0.25, 0.125]);
  out.push([0.5, 0.25, 0.25]);
  return out;
}

/** The answers of a key's runs over `qs`, batch after batch of `size` queries; `resume` may rewrite the state between batches. */
function answers(qs: number[][], size: number, resume: (state: StraightRunState) => void = () => {}): boolean[] {
  const state: StraightRunState = { run: null };
  const out: boolean[] = [];
  for (let b = 0; b < qs.length; b += size) {
    const runs = new BatchStraightRuns([state], TEST);
    for (const q of qs.slice(b, b + size)) out.push(runs.continues(0, q));
    runs.save();
    resume(state);
  }
  return out;
}

/** `state`'s run as an older snapshot held it: the sketch prefix and the step apart (the step null when none). */
function older(state: StraightRunState, encode: (v: Float32Array) => Float32Array | string): void {
  const run = state.run;
  if (!run) return;
  const dim = run.length / 2;
  const step = run.subarray(dim);
  state.last = encode(run.slice(0, dim));
  state.step = step.some((v) => v !== 0) ? encode(step.slice()) : null;
  delete state.run;
}

describe('StraightRun', () => {
  it('follows an even sweep, and holds the last prefix and its step in one vector of the key\'s own', () => {
    const qs = queries();
    const got = answers(qs, qs.length);
    // The sweep continues from its third query on, except where it repeats a query or turns.
    expect(got.slice(0, 7)).toEqual([false, false, true, true, false, true, true]);
    const state: StraightRunState = { run: null };
    const runs = new BatchStraightRuns([state], TEST);
    runs.continues(0, qs[0]);
    runs.save();
    expect(state.run).toBeInstanceOf(Float32Array);
    expect(state.run!.length).toBe(2 * TEST.straightDim);
    expect(state.run!.byteLength).toBe(state.run!.buffer.byteLength);
    expect(Array.from(state.run!.subarray(TEST.straightDim))).toEqual(new Array(TEST.straightDim).fill(0));
  });

  it('answers the same whatever the batches, and resumed from an older snapshot\'s prefix and step (vectors or base64)', () => {
    const qs = queries();
    const whole = answers(qs, qs.length);
    expect(whole.filter(Boolean).length).toBeGreaterThan(10);
    for (const size of [1, 2, 5]) {
      expect(answers(qs, size)).toEqual(whole);
      expect(answers(qs, size, (s) => older(s, (v) => v))).toEqual(whole);
      expect(answers(qs, size, (s) => older(s, (v) => packArray(v)))).toEqual(whole);
    }
  });

  it('writes the run in place of an older snapshot\'s prefix and step', () => {
    const state: StraightRunState = { last: new Float32Array([1, 2]), step: new Float32Array([0.5, 0.5]) };
    const runs = new BatchStraightRuns([state], TEST);
    expect(runs.continues(0, [1.5, 2.5])).toBe(true);
    runs.save();
    expect(state.last).toBeUndefined();
    expect(state.step).toBeUndefined();
    expect(Array.from(state.run!)).toEqual([1.5, 2.5, 0.5, 0.5]);
  });

  it('hands detectors that end a key\'s batch on equal runs one vector, never one that differs in a bit', () => {
    const batch = [{}, {}];
    const qs = queries().slice(0, 9);
    const end = (tweak: (x: number[]) => number[], batches?: object[]): StraightRunState[] => {
      const states: StraightRunState[] = [{ run: null }, { run: null }];
      const runs = new BatchStraightRuns(states, TEST, batches);
      for (const q of qs) for (let g = 0; g < 2; g++) runs.continues(g, tweak(q));
      runs.save();
      return states;
    };
    const first = end((x) => x, batch);
    const second = end((x) => x, batch);
    // Same queries of the same key's batch: the second detector holds the first one's run.
    expect(second[0].run).toBe(first[0].run);
    expect(second[1].run).toBe(first[1].run);
    expect(first[0].run).not.toBe(first[1].run);
    // Another batch, another width of step, a -0 for a 0, or no batches given: a run of its own.
    expect(end((x) => x, [{}, {}])[0].run).not.toBe(first[0].run);
    const other = end((x) => x.map((v, j) => (j === 0 ? v + 1e-3 : v)), batch);
    expect(other[0].run).not.toBe(first[0].run);
    expect(other[0].run).not.toEqual(first[0].run);
    const alone = {};
    const signed = (zero: number) => {
      const state: StraightRunState = { run: null };
      const runs = new BatchStraightRuns([state], TEST, [alone]);
      runs.continues(0, qs[0].map((v, j) => (j === 3 ? zero : v)));
      runs.save();
      return state.run!;
    };
    const plus = signed(0);
    expect(signed(0)).toBe(plus);
    expect(signed(-0)).not.toBe(plus);
    expect(end((x) => x)[0].run).not.toBe(first[0].run);
  });
});
