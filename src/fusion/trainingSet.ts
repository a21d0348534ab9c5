import type { ScoredKey } from './ScoredKey.ts';

/** What a logistic fusion is fitted on: per key, the score vectors that can hold its highest risk, and its label. */
export interface TrainingSet {
  /** Candidate rows, `rows × features`, row-major, grouped by key. */
  x: Float32Array;
  rows: number;
  features: number;
  /** Per key: index of its first row in `x`. */
  keyStart: Int32Array;
  /** Per key: how many rows it has (at least 1). */
  keyRows: Int32Array;
  /** Per key: 1 for attack, 0 for benign. */
  y: Float32Array;
  /** Per key: sample weight; the weights sum to 1 and each class sums to ½. */
  w: Float32Array;
  /** The keys, in the order above. */
  keys: string[];
}

/**
 * Builds the set a logistic fusion is fitted on from labelled keys' per-event
 * score vectors, keeping the detector columns in `features` (the behavioural
 * detectors; rate detectors are fused by their own rule, not fitted).
 *
 * What to train on. Labels come per key, risk per event, and an attacking
 * key's early events look benign: detectors need history before they score
 * (the geometry and class-mix detectors wait for 50–100 queries, and some
 * attacks show only after hundreds). Labelling every event of an attacking
 * key "attack" — or every event after a fixed count, which fits one attack's
 * pace and not another's — teaches the model that quiet score vectors mean
 * attack, which raises the bias and with it every benign key's risk. The
 * ladder does not act on a key's average event but on its first event over a
 * threshold, so the fit is made on each key's highest risk instead
 * (max-pooled multiple-instance learning, as in Andrews et al., "Support
 * Vector Machines for Multiple-Instance Learning", NIPS 2002): an attacking
 * key must reach a high risk at some event, whichever; a benign key must stay
 * low at every event. Neither needs to know which events show the attack.
 *
 * Because the fitted weights are non-negative, risk is monotone in every
 * score, so a key's highest risk is always taken at one of its score vectors
 * that no other of its vectors dominates in every score (its Pareto front).
 * Only those rows are kept: exact, and far fewer than the events.
 *
 * Each key weighs the same (a heavy key does not outvote the others) and the
 * two classes weigh the same (class imbalance does not move the fit), so the
 * fitted risk reads as the posterior of "attack" under equal priors.
 */
export function buildTrainingSet(keys: readonly ScoredKey[], detectors: number, features: readonly number[]): TrainingSet {
  const used = keys.filter((k) => k.events > 0);
  const fronts = used.map((k) => paretoFront(k, detectors, features));
  const rows = fronts.reduce((n, f) => n + f.length, 0);
  const perClass = { attack: used.filter((k) => k.attack).length, benign: used.filter((k) => !k.attack).length };
  const set: TrainingSet = {
    x: new Float32Array(rows * features.length),
    rows,
    features: features.length,
    keyStart: new Int32Array(used.length),
    keyRows: new Int32Array(used.length),
    y: Float32Array.from(used, (k) => (k.attack ? 1 : 0)),
    w: Float32Array.from(used, (k) => 0.5 / perClass[k.attack ? 'attack' : 'benign']),
    keys: used.map((k) => k.key),
  };
  let r = 0;
  fronts.forEach((front, i) => {
    set.keyStart[i] = r;
    set.keyRows[i] = front.length;
    for (const v of front) set.x.set(v, r++ * features.length);
  });
  // With one class absent the weights sum to ½; the caller refuses that case, but keep the sum at 1 regardless.
  const total = set.w.reduce((a, b) => a + b, 0);
  for (let i = 0; i < set.w.length; i++) set.w[i] /= total;
  return set;
}

/** The key's distinct score vectors (over `features`) not dominated in every score by another of them. */
export function paretoFront(key: ScoredKey, detectors: number, features: readonly number[]): number[][] {
  const distinct = new Map<string, number[]>();
  for (let e = 0; e < key.events; e++) {
    const v = features.map((f) => key.scores[e * detectors + f]);
    distinct.set(v.join(','), v);
  }
  // By decreasing sum: a vector can only be dominated by one before it.
  const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
  const candidates = [...distinct.values()].sort((a, b) => sum(b) - sum(a));
  const front: number[][] = [];
  for (const v of candidates) if (!front.some((u) => u.every((x, i) => x >= v[i]))) front.push(v);
  return front;
}
