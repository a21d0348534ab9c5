import { randomBytes } from 'node:crypto';
import { shareExcess, shareExcessLowerBound } from '../../detectors/shared/EwShare.ts';
import { describe, expect, it } from 'vitest';
import { bisectionSchema, completedSearches, createBisectionState, observeQuery } from '../../detectors/shared/BisectionTracker.ts';
import { rowKernel } from '../../detectors/shared/batch.ts';
import { addClass, balanceFields, balanceScore, balanceTest, createClassMix } from '../../detectors/shared/ClassMix.ts';
import { z } from 'zod';
import { addDistinct, createDistinctSketch, distinctRatio } from '../../detectors/shared/DistinctSketch.ts';
import { addToHistogram, advanceEpoch, createHistogram, histogramReady, unitCdf, unitQuantile } from '../../detectors/shared/EpochHistogram.ts';
import { addArrival, createGapStats, type GapStats, gapCv, gapCvUpper } from '../../detectors/shared/GapStats.ts';
import { LengthFilter, lengthClass, OffsetCounts, offsetId, offsetSquare } from '../../detectors/shared/OffsetTable.ts';
import { expectedDistinct } from '../../detectors/shared/SketchBuckets.ts';
import { mulberry32 } from '../../src/gateway/RandomProjection.ts';
import { testCompute } from './helpers/compute.ts';

const rand = mulberry32(42);
const gauss = () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());

describe('EpochHistogram', () => {
  const opts = { epochMs: 1_000, alpha: 0.5, minEpochSamples: 10 };

  it('freezes the reference within an epoch and folds a finished one with the EWMA weight', () => {
    const h = createHistogram(4);
    for (let i = 0; i < 20; i++) {
      advanceEpoch(h, 100 + i, opts);
      addToHistogram(h, 0);
    }
    expect(h.ref).toBeNull();
    const roll = advanceEpoch(h, 1_500, opts);
    expect(roll?.epochDist).toEqual([1, 0, 0, 0]);
    expect(h.ref).toEqual([1, 0, 0, 0]);
    for (let i = 0; i < 20; i++) addToHistogram(h, 3);
    expect(h.ref).toEqual([1, 0, 0, 0]); // frozen until the epoch ends
    advanceEpoch(h, 2_100, opts);
    expect(h.ref).toEqual([0.5, 0, 0, 0.5]);
    expect(histogramReady(h, 30)).toBe(true);
  });

  it('carries a thin epoch over instead of folding it', () => {
    const h = createHistogram(2);
    advanceEpoch(h, 0, opts);
    for (let i = 0; i < 5; i++) addToHistogram(h, 1);
    expect(advanceEpoch(h, 1_000, opts)).toBeNull();
    for (let i = 0; i < 5; i++) addToHistogram(h, 0);
    expect(advanceEpoch(h, 2_000, opts)?.epochDist).toEqual([0.5, 0.5]);
  });

  it('reads quantiles and the CDF of a [0,1] distribution with linear interpolation in bins', () => {
    const dist = [0.1, 0.2, 0.3, 0.4];
    expect(unitQuantile(dist, 0.1)).toBeCloseTo(0.25, 10);
    expect(unitQuantile(dist, 0.2)).toBeCloseTo(0.25 + 0.25 / 2, 10);
    expect(unitCdf(dist, 0.375)).toBeCloseTo(0.2, 10);
    for (const q of [0.05, 0.33, 0.8]) expect(unitCdf(dist, unitQuantile(dist, q))).toBeCloseTo(q, 10);
  });
});

describe('DistinctSketch (KMV)', () => {
  it('estimates the distinct share of hashed inputs within a few percent', () => {
    const unique = createDistinctSketch();
    for (let i = 0; i < 5_000; i++) addDistinct(unique, randomBytes(32), 256);
    expect(distinctRatio(unique, 256)).toBeGreaterThan(0.85);

    const replay = createDistinctSketch();
    const set = Array.from({ length: 500 }, () => randomBytes(32));
    for (let i = 0; i < 5_000; i++) addDistinct(replay, set[i % 500], 256);
    expect(distinctRatio(replay, 256)).toBeGreaterThan(0.08);
    expect(distinctRatio(replay, 256)).toBeLessThan(0.12);
    expect(replay.mins.length).toBe(256);
  });
});

describe('BisectionTracker', () => {
  const c = bisectionSchema.parse({});
  const dim = 16;
  const point = () => Array.from({ length: dim }, gauss);
  const label = (x: number[], w: number[]) => (x.reduce((s, v, i) => s + v * w[i], 0) > 0 ? 1 : 0);

  function bisect(state: ReturnType<typeof createBisectionState>, w: number[], halvings: number, ts: number) {
    let a = point();
    let b = point();
    while (label(a, w) === label(b, w)) b = point();
    observeQuery(state, a, label(a, w), ts, c);
    observeQuery(state, b, label(b, w), ts, c);
    for (let h = 0; h < halvings; h++) {
      const m = a.map((v, i) => (v + b[i]) / 2);
      observeQuery(state, m, label(m, w), ts, c);
      if (label(m, w) === label(a, w)) a = m;
      else b = m;
    }
  }

  it('counts a line search whose steps halve across a label flip', () => {
    const s = createBisectionState();
    const w = point();
    bisect(s, w, 10, 0);
    bisect(s, w, 10, 0);
    expect(completedSearches(s, 0, c)).toBeCloseTo(2, 6);
    expect(s.longest).toBe(10);
  });

  it('follows interleaved line searches', () => {
    const s = createBisectionState();
    const w = point();
    const ends = [0, 1].map(() => {
      const a = point();
      let b = point();
      while (label(a, w) === label(b, w)) b = point();
      return { a, b };
    });
    for (const e of ends) {
      observeQuery(s, e.a, label(e.a, w), 0, c);
      observeQuery(s, e.b, label(e.b, w), 0, c);
    }
    for (let h = 0; h < 8; h++) {
      for (const e of ends) {
        const m = e.a.map((v, i) => (v + e.b[i]) / 2);
        observeQuery(s, m, label(m, w), 0, c);
        if (label(m, w) === label(e.a, w)) e.a = m;
        else e.b = m;
      }
    }
    expect(completedSearches(s, 0, c)).toBeCloseTo(2, 6);
  });

  it('ignores equal steps, random queries and short searches', () => {
    const s = createBisectionState();
    const w = point();
    const base = point();
    const dir = point();
    for (let i = 0; i < 40; i++) observeQuery(s, base.map((v, j) => v + 0.1 * i * dir[j]), i % 2, 0, c); // an equally spaced sweep
    for (let i = 0; i < 500; i++) {
      const x = point();
      observeQuery(s, x, label(x, w), 0, c);
    }
    bisect(s, w, c.minSteps - 1, 0);
    expect(completedSearches(s, 0, c)).toBe(0);
  });

  it('forgets completed searches with the configured half-life', () => {
    const s = createBisectionState();
    bisect(s, point(), 10, 0);
    expect(completedSearches(s, c.halfLifeMs, c)).toBeCloseTo(0.5, 6);
  });
});

describe('balanceTest', () => {
  const ref = [0.36, 0.26, 0.18, 0.12, 0.08];
  const mixOf = (probs: number[], n: number) => {
    const m = createClassMix();
    for (let i = 0; i < n; i++) {
      let u = rand();
      let k = 0;
      while (k < probs.length - 1 && (u -= probs[k]) > 0) k++;
      addClass(m, k, 10_000, 64);
    }
    return m;
  };

  it('reads 0 for a mix like the reference, 1 for a uniform one, with a z-score that grows with the sample', () => {
    const natural = balanceTest(mixOf(ref, 2_000), ref, 5, 0.02)!;
    expect(Math.abs(natural.b)).toBeLessThan(0.15);
    const uniform = balanceTest(mixOf([0.2, 0.2, 0.2, 0.2, 0.2], 2_000), ref, 5, 0.02)!;
    expect(uniform.b).toBeGreaterThan(0.85);
    expect(uniform.b).toBeLessThan(1.15);
    expect(uniform.evenness).toBeGreaterThan(0.9);
    const small = balanceTest(mixOf([0.2, 0.2, 0.2, 0.2, 0.2], 100), ref, 5, 0.02)!;
    expect(uniform.z).toBeGreaterThan(2 * small.z);
  });

  it('does not take a mix piled on a rare class, or skewed the other way, for a balanced one', () => {
    const rare = balanceTest(mixOf([0.02, 0.02, 0.02, 0.04, 0.9], 500), ref, 5, 0.02)!;
    expect(rare.b).toBeGreaterThan(1); // the likelihood ratio alone is fooled…
    expect(rare.evenness).toBeLessThan(0); // …the evenness is not
    const reversed = balanceTest(mixOf([...ref].reverse(), 500), ref, 5, 0.02)!;
    expect(reversed.evenness).toBeLessThan(0.3);
  });

  it('declines when the reference is itself near uniform', () => {
    expect(balanceTest(mixOf([0.2, 0.2, 0.2, 0.2, 0.2], 100), [0.2, 0.2, 0.2, 0.2, 0.2], 5, 0.02)).toBeNull();
  });

  it('scores a uniform mix fully against an imbalanced prior and abstains against a nearly even one', () => {
    const c = z.object(balanceFields).parse({});
    const even = [0.42, 0.32, 0.26];
    const skewed = [0.7, 0.2, 0.1];
    const uniform = [1 / 3, 1 / 3, 1 / 3];
    // Against a 70/20/10 model a uniform key is the adaptive transfer set the test looks for…
    expect(balanceScore(balanceTest(mixOf(uniform, 400), skewed, 3, c.minImbalance)!, c)).toBe(1);
    // …against a 42/32/26 model it passes the old symmetrised-KL gate, b and z are high, yet it means nothing.
    const near = balanceTest(mixOf(uniform, 400), even, 3, c.minImbalance)!;
    expect(near.b).toBeGreaterThan(0.85);
    expect(near.imbalance).toBeLessThan(c.imbalanceLow);
    expect(balanceScore(near, c)).toBe(0);
  });
});

describe('GapStats', () => {
  it('tells a metronome from a bursty person', () => {
    const script = createGapStats();
    const person = createGapStats();
    let t = 0;
    let u = 0;
    for (let i = 0; i < 300; i++) {
      addArrival(script, (t += 2_000 + Math.round((rand() - 0.5) * 80)), 64);
      addArrival(person, (u += rand() < 0.7 ? 1_000 + 3_000 * rand() : -Math.log(rand()) * 120_000), 64);
    }
    expect(gapCv(script)).toBeLessThan(0.05);
    expect(gapCv(person)).toBeGreaterThan(1);
  });

  it('bounds the CV from above: 16 gaps of a script stay low, 16 of a person seldom pass for a script', () => {
    const trials = 2_000;
    let personBound = 0;
    let scriptWorst = 0;
    for (let k = 0; k < trials; k++) {
      const script = createGapStats();
      const person = createGapStats();
      let t = 0;
      let u = 0;
      for (let i = 0; i <= 16; i++) {
        addArrival(script, (t += 3_000 + Math.round((rand() - 0.5) * 1_000)), 64);
        // A person's gaps: exponential (a Poisson process), the least bursty a person is.
        addArrival(person, (u += Math.round(-Math.log(Math.max(rand(), 1e-12)) * 20_000)), 64);
      }
      scriptWorst = Math.max(scriptWorst, gapCvUpper(script, 64, 2));
      if (gapCvUpper(person, 64, 2) < 0.6) personBound++;
    }
    // A script with ±17% jitter (CV ≈ 0.1) is bounded under 0.2 after 16 gaps.
    expect(scriptWorst).toBeLessThan(0.2);
    // Bounded, a person's 16 gaps almost never pass under the human CV (0.6).
    expect(personBound / trials).toBeLessThan(0.002);
    // With more gaps the bound closes on the estimate.
    const long = createGapStats();
    let v = 0;
    for (let i = 0; i <= 300; i++) addArrival(long, (v += 3_000 + Math.round((rand() - 0.5) * 1_000)), 64);
    expect(gapCvUpper(long, 64, 2) - gapCv(long)).toBeLessThan(0.05);
    expect(gapCvUpper(long, 64, 0)).toBe(gapCv(long));
  });

  it('reads a script that pauses between rounds as the metronome it is, where the gaps\' plain CV would call it bursty', () => {
    const rounds = createGapStats();
    const gaps: number[] = [];
    let t = 0;
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 100; i++) {
        const gap = i === 0 && round > 0 ? 20_000 + 40_000 * rand() : 1_000 + Math.round((rand() - 0.5) * 200);
        gaps.push(gap);
        addArrival(rounds, (t += gap), 64);
        // Read as a script (under 0.3; a person is 0.6 and more), right after a pause included.
        if (rounds.n >= 64) expect(gapCvUpper(rounds, 64, 2)).toBeLessThan(0.3);
      }
    }
    // The control: the plain CV of the same gaps, dominated by the five pauses.
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((a, b) => a + (b - mean) ** 2, 0) / gaps.length);
    expect(sd / mean).toBeGreaterThan(1);
    // A Poisson process reads as a log-normal of the same log spread would: a CV near 2, far from a script.
    const poisson = createGapStats();
    let u = 0;
    for (let i = 0; i <= 2_000; i++) addArrival(poisson, (u += Math.round(-Math.log(Math.max(rand(), 1e-12)) * 20_000)), 1_000);
    expect(gapCv(poisson)).toBeGreaterThan(1.5);
    expect(gapCv(poisson)).toBeLessThan(2.6);
  });

  it('takes up a snapshot of an older version from its plain moments', () => {
    const old = { n: 40, mean: 2_000, variance: 0.01 * 2_000 * 2_000, lastTs: 80_000 };
    const g: GapStats = { ...old };
    addArrival(g, 82_000, 64);
    // The plain moments after this gap, read as a log-normal's: CV ≈ 0.1 about a mean of 2 s (+ the 100 ms floor).
    expect(g.logMean).toBeCloseTo(Math.log(2_100) - Math.log1p(0.01) / 2, 3);
    expect(gapCv(g)).toBeCloseTo(0.1, 2);
    const person: GapStats = { n: 40, mean: 60_000, variance: 4 * 60_000 * 60_000, lastTs: 0 };
    addArrival(person, 60_000, 64);
    expect(gapCv(person)).toBeGreaterThan(1.5);
  });
});

describe('expectedDistinct', () => {
  it('matches the occupancy expectation by simulation', () => {
    const dist = Array.from({ length: 64 }, (_, i) => Math.exp(-i / 8));
    const total = dist.reduce((a, b) => a + b, 0);
    const p = dist.map((v) => v / total);
    let sum = 0;
    const trials = 400;
    for (let t = 0; t < trials; t++) {
      const seen = new Set<number>();
      for (let k = 0; k < 100; k++) {
        let u = rand();
        let i = 0;
        while (i < 63 && (u -= p[i]) > 0) i++;
        seen.add(i);
      }
      sum += seen.size;
    }
    expect(expectedDistinct(p, 100, 0)).toBeCloseTo(sum / trials, 0);
  });
});

describe('rowKernel', () => {
  it('runs one kernel call per row width and puts results back in row order', async () => {
    const calls: number[] = [];
    const compute = await testCompute();
    const rows = [[0.5, 0.5], null, [0.7, 0.2, 0.1], [0.9, 0.1], []];
    const out = rowKernel(rows, (m, w) => {
      calls.push(w);
      return compute.topMargin(m, w);
    });
    expect(calls.sort()).toEqual([2, 3]);
    expect(Array.from(out, (v) => (Number.isNaN(v) ? 'nan' : Number(v.toFixed(4))))).toEqual([0, 'nan', 0.5, 0.8, 'nan']);
  });
});

describe('OffsetTable', () => {
  const rand = mulberry32(99);
  const row = (dim: number) => Float32Array.from({ length: dim }, () => 4 * rand() - 2);
  const id = (a: Float32Array, b: Float32Array) => offsetId(a, 0, b, 0, a.length, offsetSquare(a, 0, b, 0, a.length), 1e-4);

  it('gives the same step taken from different points one identity, whatever the sketch units, and different steps different ones', () => {
    const step = row(8).map((v) => v / 4);
    const [p, q] = [row(8), row(8)];
    const plus = (x: Float32Array, k = 1) => x.map((v, j) => v + k * step[j]);
    expect(id(plus(p), p)).toBe(id(plus(q), q));
    // In other units (sketches a thousand times larger) the rounding is relative, so the step still matches itself.
    const s = (x: Float32Array) => x.map((v) => v * 1000);
    expect(id(s(plus(p)), s(p))).toBe(id(s(plus(q)), s(q)));
    // Twice the step, the opposite step, another step: other identities.
    expect(id(plus(p, 2), p)).not.toBe(id(plus(p), p));
    expect(id(p, plus(p))).not.toBe(id(plus(p), p));
    expect(id(plus(q), q)).not.toBe(id(row(8), row(8)));
    expect(offsetSquare(p, 0, p, 0, 8)).toBe(0);
  });

  it('counts each query once per offset and keeps its first fingerprints; the length filter passes only recurring lengths', () => {
    const t = new OffsetCounts(3);
    t.reset(16);
    const a = t.add(7, 0, 101, 1);
    t.add(7, 0, 101, 1); // the same query again: not a new realiser
    t.add(7, 1, 102, 1);
    t.add(9, 1, 102, 2);
    expect(t.count(a)).toBe(2);
    expect([...t.fingerprints(a)]).toEqual([101, 102]);
    expect(t.slotsWith(2)).toEqual([a]);
    expect(t.find(9)).toBeGreaterThanOrEqual(0);
    t.reset(16);
    expect(t.find(7)).toBe(-1);
    const f = new LengthFilter(1 << 10);
    f.add(lengthClass(2.5));
    expect(f.recurs(lengthClass(2.5))).toBe(false);
    f.add(lengthClass(2.5));
    expect(f.recurs(lengthClass(2.5))).toBe(true);
    expect(lengthClass(2.5)).not.toBe(lengthClass(2.5 * 1.001));
  });
});

describe('shareExcessLowerBound', () => {
  it('is below the excess, near it for many events, and far below it for a handful', () => {
    const many = { n: 1_000, s: 0.5, e: 0.01 };
    const few = { n: 16, s: 0.5, e: 0.01 };
    expect(shareExcessLowerBound(many, 10_000, 3)).toBeLessThan(shareExcess(many));
    expect(shareExcess(many) - shareExcessLowerBound(many, 10_000, 3)).toBeLessThan(0.06);
    expect(shareExcessLowerBound(few, 200, 3)).toBeLessThan(0.25);
    // Nearly every one of 20 events: surely most of them.
    expect(shareExcessLowerBound({ n: 20, s: 0.95, e: 0.01 }, 200, 3)).toBeGreaterThan(0.6);
    expect(shareExcessLowerBound({ n: 0, s: 0, e: 0.01 }, 200, 3)).toBe(0);
  });
});
