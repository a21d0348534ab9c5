import { beforeAll, describe, expect, it } from 'vitest';
import { recurringOffsets, type RecurringOffsetsState } from '../../detectors/recurringOffsets.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import type { InferenceEvent } from '../../src/contract.ts';
import { uniformBox } from './helpers/attacks.ts';
import { testCompute } from './helpers/compute.ts';
import { type DetectorRun, runDetector } from './helpers/runDetector.ts';
import { restoredRun, throughSnapshot } from './helpers/snapshotRoundTrip.ts';
import { encodeSection } from '../../src/state/SnapshotCodec.ts';
import { ATTACK_START, attackTimes, FIRES, naturalScenario, QUIET, VOLUME } from './helpers/scenario.ts';
import { humanTimes, merge, naturalKey, replayTestSet, scriptTimes, sweepSessions, type World } from './helpers/world.ts';

const config = (overrides: object = {}) => recurringOffsets.configSchema.parse(overrides);
const argmax = (p: number[]) => p.indexOf(Math.max(...p));

/**
 * Papernot et al.'s Jacobian-based dataset augmentation (AsiaCCS 2017, Algorithm 1): `seeds` real records,
 * then rounds in which every point so far spawns x + λ·sgn(∂F_c/∂x) for its oracle label c, with the sign
 * flipped every τ = 3 rounds. The substitute F is the world's own posterior at another temperature (a trained
 * substitute approximates the oracle); its gradient is taken by central differences.
 */
function jacobianAugmentation(world: World, key: string, times: number[], seeds = 100, lambda = 0.3): InferenceEvent[] {
  const signs = (x: number[], c: number) =>
    x.map((_, j) => {
      const up = x.slice();
      const down = x.slice();
      up[j] += 1e-4;
      down[j] -= 1e-4;
      return Math.sign(world.probs(up, 2)[c] - world.probs(down, 2)[c]) || 1;
    });
  let set = Array.from({ length: seeds }, () => world.record());
  const xs = [...set];
  for (let rho = 0; xs.length < times.length; rho++) {
    const s = Math.floor(rho / 3) % 2 === 0 ? 1 : -1;
    const next = set.map((x) => {
      const g = signs(x, argmax(world.probs(x)));
      return x.map((v, j) => v + s * lambda * g[j]);
    });
    xs.push(...next);
    set = set.concat(next);
  }
  return times.map((t, i) => world.event(key, xs[i], t));
}

/**
 * PRADA's T-RND (Juuti et al., EuroS&P 2019) as the quality benchmark's office-hours thief runs it: `seeds`
 * stolen real records, each sent once, mixed 1:1 with copies of records already sent, each coordinate moved
 * by a Gaussian of `jitter` times the records' spread. No offset recurs: each copy takes its own direction.
 */
function randomPerturbation(world: World, key: string, times: number[], seeds = 120, jitter = 0.1): InferenceEvent[] {
  const stolen = Array.from({ length: seeds }, () => world.record());
  const spread = stolen[0].map((_, j) => {
    const v = stolen.map((r) => r[j]);
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    return Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
  });
  const sent: number[][] = [];
  return times.map((t) => {
    let x: number[];
    if (sent.length > 0 && (sent.length >= stolen.length || world.uniform() < 0.5)) {
      const parent = sent[Math.floor(world.uniform() * sent.length)];
      x = parent.map((v, j) => v + jitter * spread[j] * world.gauss());
    } else {
      x = stolen[sent.length];
      sent.push(x);
    }
    return world.event(key, x, t);
  });
}

/** Sessions of one-feature what-if sweeps, every one of the same feature in the same number of even steps, each around a fresh real record. */
function sameSweeps(world: World, key: string, times: number[], feature = 3, steps = 25): InferenceEvent[] {
  return sweepSessions(world, key, times, () => ({ feature, steps, at: (_, i) => -4 + (8 * i) / (steps - 1) }));
}

/** The default detector over the natural scenario, identical sweeps, a large replay, JbDA and random queries. */
let run: DetectorRun;
let events: InferenceEvent[];
let naturalKeys: string[];
let compute: Compute;
beforeAll(async () => {
  const { world: w, natural, naturalKeys: keys } = naturalScenario(5);
  compute = await testCompute();
  const analyst = sameSweeps(w, 'nat-analyst', humanTimes(w, VOLUME, ATTACK_START, 20_000));
  // A test set larger than `history`, replayed three times: its queries come back after they left the rows.
  const bigReplay = replayTestSet(w, 'nat-bigreplay', 300, 3, ATTACK_START, 1_000);
  // A user who works on one class only: its queries crowd one region, closer together than the model's traffic.
  const oneClass = humanTimes(w, VOLUME, ATTACK_START, 20_000).map((t) => w.event('nat-oneclass', w.record(0), t));
  naturalKeys = [...keys, 'nat-analyst', 'nat-bigreplay', 'nat-oneclass'];
  events = merge(
    natural,
    analyst,
    bigReplay,
    oneClass,
    jacobianAugmentation(w, 'atk-jbda', attackTimes(w)),
    uniformBox(w, 'atk-random', attackTimes(w)),
    randomPerturbation(w, 'atk-trnd', attackTimes(w)),
  );
  run = runDetector(recurringOffsets.create(config()), events, compute);
});

describe('recurring-offsets', () => {
  it(`fires on Jacobian-based augmentation within ${VOLUME} queries (100 real seeds, then two rounds), with the numbers behind it`, () => {
    expect(run.lastScore.get('atk-jbda')).toBeGreaterThanOrEqual(FIRES);
    expect(run.lastEvidence.get('atk-jbda')![0]).toMatch(
      /^\d+% of recent queries \(window 64, \d+ judged\) sit at an offset from an earlier query that 3\+ distinct queries took, or are near copies of the key's own earlier queries \(closer to one than 0\.15× the distance at which as many of model credit-v3's queries have their nearest\), against 1\.0% for the model's traffic \(z=\d+\.\d\); of the last 16: \d+ on \d+ recurring offsets?, \d+ near cop(y|ies)$/,
    );
    // Its seeds are real records: nothing before the first augmented child.
    const firstChild = events.filter((e) => e.api_key === 'atk-jbda')[100];
    const before = events.filter((e) => e.api_key === 'atk-jbda' && e.ts < firstChild.ts);
    expect(Math.max(...before.map((e) => run.scores.get(e.event_id)!))).toBe(0);
  });

  it('stays quiet on natural traffic of the same volume: users, a what-if sweep, sessions of identical sweeps, test-set replays, a heavy user', () => {
    for (const key of naturalKeys) expect(run.maxByKey.get(key) ?? 0, key).toBeLessThanOrEqual(QUIET);
    // The heavy keys were judged, not skipped.
    for (const key of ['nat-heavy', 'nat-replay', 'nat-bigreplay']) expect((run.states.get(key) as RecurringOffsetsState).share.n, key).toBeGreaterThanOrEqual(80);
  });

  it('fires on randomly perturbed copies of stolen records (T-RND), whose offsets never recur, by their nearness to their parents', () => {
    expect(run.lastScore.get('atk-trnd')).toBeGreaterThanOrEqual(FIRES);
    const state = run.states.get('atk-trnd') as RecurringOffsetsState;
    expect(state.copies).toBeGreaterThan(0);
    expect(run.lastEvidence.get('atk-trnd')![0]).toMatch(/: 0 on 0 recurring offsets, \d+ near cop(y|ies)$/);
    // Without the near-copy test the same stream goes unseen: its offsets never recur.
    const offsetsOnly = runDetector(recurringOffsets.create(config({ nearCopyRatio: 0 })), events, compute);
    expect(offsetsOnly.maxByKey.get('atk-trnd') ?? 0).toBeLessThanOrEqual(QUIET);
  });

  it('does not fire on random queries (no offset recurs) nor on them mixed into the model baseline', () => {
    expect(run.maxByKey.get('atk-random')).toBe(0);
  });

  it('leaves straight runs and their first step out: without that, sessions of identical sweeps fire', () => {
    const analyst = run.states.get('nat-analyst') as RecurringOffsetsState;
    expect(analyst.share.n).toBeLessThan(VOLUME / 10);
    const everyStep = runDetector(recurringOffsets.create(config({ straightCos: 1 })), events, compute);
    expect(everyStep.maxByKey.get('nat-analyst')).toBeGreaterThanOrEqual(FIRES);
  });

  it('counts an offset once per distinct query: a replayed set larger than the rows does not realise its own offsets again', () => {
    // Each round re-realises the same pairs; counted by query they never reach three realisers.
    const replay = run.states.get('nat-bigreplay') as RecurringOffsetsState;
    expect(replay.share.s).toBeLessThan(0.05);
  });

  it('keeps its state bounded, in typed arrays, and restorable from a snapshot whatever the history', () => {
    const { world: w, natural } = naturalScenario(5);
    const long = merge(natural, jacobianAugmentation(w, 'atk-long', scriptTimes(w, 3_000, ATTACK_START, 500)));
    const r = runDetector(recurringOffsets.create(config()), long, compute, 1_000);
    const state = r.states.get('atk-long') as RecurringOffsetsState;
    expect(encodeSection(state).length).toBeLessThanOrEqual(12_000);
    expect(state.n).toBeLessThanOrEqual(config().history + config().block);
    expect(state.rows).toBeInstanceOf(Float32Array);
    expect((state.rows as Float32Array).length).toBeLessThanOrEqual((config().history + config().block) * state.dim);
    // Between polls a busy key's rows hold exactly its `n` rows too: the open block's room is not kept.
    expect(state.n).toBeGreaterThanOrEqual(config().history);
    expect((state.rows as Float32Array).length).toBe(state.n * state.dim);
    expect(state.run).toBeInstanceOf(Float32Array);
    expect(state.offsets.length).toBeLessThanOrEqual(config().slots);
    expect(throughSnapshot(state)).toEqual(state);
  });

  it('keeps a young key\'s rows in an array of exactly their size, its own', () => {
    const { world: w } = naturalScenario(5);
    const r = runDetector(recurringOffsets.create(config()), naturalKey(w, 'young', 20, humanTimes(w, 20, ATTACK_START)), compute);
    const state = r.states.get('young') as RecurringOffsetsState;
    const rows = state.rows as Float32Array;
    expect(state.n).toBeGreaterThan(config().block);
    expect(rows.length).toBe(state.n * state.dim);
    expect(rows.byteLength).toBe(rows.buffer.byteLength);
  });

  it('gives the same scores whatever the poll size, and carries on identically from a snapshot', () => {
    const small = runDetector(recurringOffsets.create(config()), events, compute, 97);
    const large = runDetector(recurringOffsets.create(config()), events, compute, 2_048);
    for (const e of events) expect(small.scores.get(e.event_id), e.event_id).toBeCloseTo(large.scores.get(e.event_id)!, 6);
    const cut = Math.floor(events.length / 2);
    const first = runDetector(recurringOffsets.create(config()), events.slice(0, cut), compute);
    const resumed = runDetector(recurringOffsets.create(config()), events.slice(cut), compute, 500, restoredRun(first));
    for (const e of events.slice(cut)) expect(resumed.scores.get(e.event_id), e.event_id).toBeCloseTo(run.scores.get(e.event_id)!, 6);
    expect(resumed.lastScore.get('atk-jbda')).toBeGreaterThanOrEqual(FIRES);
  });
});
