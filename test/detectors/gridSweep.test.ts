import { beforeAll, describe, expect, it } from 'vitest';
import { gridSweep, type GridSweepState } from '../../detectors/gridSweep.ts';
import type { Compute, MinDistanceJob } from '../../src/compute/Compute.ts';
import type { InferenceEvent } from '../../src/contract.ts';
import { packArray } from '../../src/compute/packedVectors.ts';
import { addOuterProductUpper } from '../../src/stats/effectiveDimension.ts';
import type { RingState } from '../../detectors/shared/TypedRing.ts';
import { TypedRing } from '../../detectors/shared/TypedRing.ts';
import { encodeSection } from '../../src/state/SnapshotCodec.ts';
import { restoredRun, ringsInOrder } from './helpers/snapshotRoundTrip.ts';
import { testCompute } from './helpers/compute.ts';
import { epochParts } from '../../src/baselines/epochParts.ts';
import { DEFAULT_REFERENCE, type DetectorRun, runDetector } from './helpers/runDetector.ts';
import { attackTimes, FIRES, naturalScenario, QUIET, VOLUME } from './helpers/scenario.ts';
import { merge, sweepSessions, type World } from './helpers/world.ts';

const config = gridSweep.configSchema.parse({});
const create = () => gridSweep.create(config);

/** A lattice sweep: features varied over `steps` equal steps each, row-major, the rest held at one real record. */
function latticeSweep(world: World, key: string, times: number[], features = [0, 1, 2], steps = 8): InferenceEvent[] {
  const base = world.record(0);
  return times.map((t, n) => {
    const x = base.slice();
    let i = n % steps ** features.length;
    for (const f of features) {
      x[f] = base[f] - 3 + (6 * (i % steps)) / (steps - 1);
      i = Math.floor(i / steps);
    }
    return world.event(key, x, t);
  });
}

/**
 * PRADA-style synthetic queries: Papernot et al.'s Jacobian-based dataset
 * augmentation (AsiaCCS 2017), the attack PRADA was built against. A few
 * real seeds, then rounds in which every point so far spawns x + λ·sign(g);
 * the substitute's Jacobian signs g are drawn at random here. λ = 0.1 per
 * unit of feature spread.
 */
function jacobianAugmentation(world: World, key: string, times: number[], seeds = 10, lambda = 0.1): InferenceEvent[] {
  let pool = Array.from({ length: seeds }, () => world.record());
  const xs = [...pool];
  while (xs.length < times.length) {
    const next = pool.map((x) => x.map((v) => v + lambda * (world.uniform() < 0.5 ? -1 : 1)));
    xs.push(...next);
    pool = pool.concat(next);
  }
  return times.map((t, i) => world.event(key, xs[i], t));
}

/** The Halton sequence in base b (a low-discrepancy, space-filling design). */
function halton(i: number, b: number): number {
  let f = 1;
  let r = 0;
  for (let k = i; k > 0; k = Math.floor(k / b)) {
    f /= b;
    r += f * (k % b);
  }
  return r;
}

/** A space-filling Halton design over two features of a real record (not a lattice: no repeated step). */
function haltonSlice(world: World, key: string, times: number[], features = [4, 6]): InferenceEvent[] {
  const base = world.record(1);
  return times.map((t, n) => {
    const x = base.slice();
    features.forEach((f, k) => (x[f] = base[f] - 3 + 6 * halton(n + 1, [2, 3][k])));
    return world.event(key, x, t);
  });
}

/**
 * A person working on a few topics: records near five cases they care about,
 * and one query in five a repeat of something asked before (as the demo's
 * users do). The distances this gives are bimodal, PRADA's known benign
 * failure, and the repeats are what tells it apart from a synthetic attack.
 */
function topicUser(world: World, key: string, times: number[]): InferenceEvent[] {
  const topics = Array.from({ length: 5 }, () => world.record());
  const seen: number[][] = [];
  return times.map((t) => {
    if (seen.length > 3 && world.uniform() < 0.2) return world.event(key, world.pick(seen), t);
    const x = world.pick(topics).map((v) => v + 0.35 * world.gauss());
    seen.push(x);
    return world.event(key, x, t);
  });
}

/**
 * A what-if analyst over several sessions: one-feature sweeps of 20–40 even steps, each around a fresh
 * real record, often of the same feature again (as the quality benchmark's analysts do).
 */
function analystSessions(world: World, key: string, times: number[], features = [2, 5, 2, 7, 2, 5, 1, 2, 2, 5, 2, 7]): InferenceEvent[] {
  return sweepSessions(world, key, times, (s) => {
    const steps = 20 + ((s * 7) % 21);
    return { feature: features[s % features.length], steps, at: (v, i) => v - 3 + (6 * i) / (steps - 1) };
  });
}

let compute: Compute;
let naturalKeys: string[];
let events: InferenceEvent[];
/** The default detector over the whole stream, polls of 500 (most tests read this one run). */
let run: DetectorRun;
beforeAll(async () => {
  compute = await testCompute();
  const scenario = naturalScenario(3);
  naturalKeys = scenario.naturalKeys;
  const w = scenario.world;
  events = merge(
    scenario.natural,
    latticeSweep(w, 'atk-grid', attackTimes(w)),
    jacobianAugmentation(w, 'atk-jbda', attackTimes(w)),
    haltonSlice(w, 'atk-halton', attackTimes(w)),
    topicUser(w, 'nat-topics', attackTimes(w)),
    analystSessions(w, 'nat-analyst', attackTimes(w)),
  );
  naturalKeys = [...naturalKeys, 'nat-topics'];
  run = runDetector(create(), events, compute);
});

/** A run's states as a snapshot would restore them. */
const clone = (r: DetectorRun): DetectorRun => restoredRun(r);

/**
 * `state` in the form snapshots took before the vectors were kept in typed arrays: every vector base64,
 * the rings oldest first, the moments' upper triangle (or `fullMoments`: the whole matrix, an older form
 * still) and the direction slots in use (or `everySlot`: all of them, zero-padded, as older snapshots did).
 */
function olderForm(withTurns: GridSweepState, options: { fullMoments?: boolean; everySlot?: boolean } = {}): GridSweepState {
  // Older snapshots knew no held turns: their moments had every turn added.
  const { turns: _, ...state } = withTurns;
  const d = state.protoDim;
  const ring = (r: RingState | object, kind: 'f32' | 'u16' | 'u32' | 'u8', capacity: number) => ({ data: packArray(new TypedRing(kind, capacity, r as RingState<typeof kind>).ordered()) });
  const triangle = settledMoments(withTurns);
  const full = new Float32Array(d * d);
  for (let i = 0, k = 0; i < d; i++) for (let j = i; j < d; j++, k++) full[i * d + j] = full[j * d + i] = triangle[k];
  const protos = new Float32Array(options.everySlot ? config.steps.directionSlots * d : (state.protos as Float32Array).length);
  protos.set(state.protos as Float32Array);
  return {
    ...state,
    sets: state.sets.map((set) => (set ? { ...set, rows: packArray(set.rows as Float32Array) } : null)),
    distances: ring(state.distances, 'f32', config.prada.window),
    steps: ring(state.steps, 'f32', config.steps.window),
    stepDirections: ring(state.stepDirections, 'u16', config.steps.window),
    hashes: ring(state.hashes, 'u32', config.repeats.window),
    repeatFlags: ring(state.repeatFlags, 'u8', config.repeats.window),
    protos: d ? packArray(protos) : '',
    moments: d ? packArray(options.fullMoments ? full : triangle) : '',
    ...lastApart(state, packArray),
  };
}

/** `state` in the form snapshots took before the last query and its step were one vector: the two apart (typed arrays, or as `encode` writes them). */
function lastApart(state: GridSweepState, encode: (v: Float32Array) => Float32Array | string = (v) => v): Pick<GridSweepState, 'last' | 'lastStep'> {
  if (!state.last) return { last: null };
  const { model, run } = state.last as { model: string; run: Float32Array };
  const width = run.length / 2;
  const step = run.slice(width);
  return { last: { model, sketch: encode(run.slice(0, width)) }, ...(step.some((v) => v !== 0) ? { lastStep: encode(step) } : {}) };
}

/** The step moments with a young key's held turns added, each as `addOuterProductUpper` adds a turn (the test's own account of it). */
function settledMoments(state: GridSweepState): Float32Array {
  const d = state.protoDim;
  const held = state.turns ?? new Float32Array(0);
  const moments = state.moments as Float32Array;
  const m = moments.length > 0 || held.length === 0 ? moments.slice() : new Float32Array((d * (d + 1)) / 2);
  for (let at = 0; at < held.length; at += d) addOuterProductUpper(m, held.subarray(at, at + d), d, 1 - 1 / config.steps.window);
  return m;
}

describe('grid-sweep', () => {
  it(`fires on a lattice sweep of ${VOLUME} queries, with the numbers behind it`, () => {
    expect(run.lastScore.get('atk-grid')).toBeGreaterThanOrEqual(FIRES);
    const evidence = run.lastEvidence.get('atk-grid')!.join('\n');
    expect(evidence).toMatch(/lattice spacing: \d+% of the last \d+ steps have [1-3] sizes \(/);
    expect(evidence).toMatch(/repeated step directions: \d+% of the last \d+ steps run along \d+ fixed directions, each in 8\+ separate runs/);
    // Its rows are straight runs, which add no distances: the lattice is judged by its steps, not by PRADA's test.
    expect(evidence).not.toMatch(/min-distance normality/);
  });

  it('flags PRADA-style synthetic queries (Jacobian-based augmentation) through the normality test, up to its weight alone', () => {
    const state = run.states.get('atk-jbda') as GridSweepState;
    expect(state.view.w).toBeGreaterThan(0);
    expect(state.view.w).toBeLessThan(config.prada.delta - 0.05);
    expect(state.view.wN).toBeGreaterThanOrEqual(config.prada.minDistances);
    expect(run.lastEvidence.get('atk-jbda')![0]).toMatch(new RegExp(`^min-distance normality W=0\\.\\d\\d < 0\\.90 over ${state.view.wN} queries`));
    // Alone, the normality test reaches its weight (the ladder's observe step), no further…
    expect(run.lastScore.get('atk-jbda')).toBeGreaterThanOrEqual(config.prada.weight);
    expect(run.lastScore.get('atk-jbda')).toBeLessThan(0.5);
    // …and at full weight, PRADA as published, it fires.
    const published = runDetector(gridSweep.create(gridSweep.configSchema.parse({ prada: { weight: 1 } })), events, compute);
    expect(published.lastScore.get('atk-jbda')).toBeGreaterThanOrEqual(FIRES);
  });

  it('fires on a space-filling sweep of a two-feature slice that walks no lattice', () => {
    expect(run.lastScore.get('atk-halton')).toBeGreaterThanOrEqual(FIRES);
    expect(run.lastEvidence.get('atk-halton')!.join('\n')).toMatch(/space-filling coverage of a slice: the \d+ turns among the last \d+ steps span only [12]\.\d of 16 sketch dimensions/);
  });

  it('reads a slice against the model\'s traffic: where natural records themselves vary in two features, a key stepping in them is not flagged', () => {
    // The default run's traffic varies in every feature: the slice key above is flagged (previous test).
    const w = naturalScenario(5).world;
    const base = w.record(2);
    const flat = (key: string, times: number[]) =>
      times.map((t) => {
        const x = base.slice();
        for (const f of [4, 6]) x[f] = base[f] - 3 + 6 * w.uniform();
        return w.event(key, x, t);
      });
    const keys = Array.from({ length: 12 }, (_, k) => `flat-${k}`);
    const flatRun = runDetector(create(), merge(...keys.map((k) => flat(k, attackTimes(w))), haltonSlice(w, 'atk-halton', attackTimes(w))), compute);
    for (const key of [...keys, 'atk-halton']) {
      const state = flatRun.states.get(key) as GridSweepState;
      expect(state.view.trafficDims, key).toBeLessThan(config.coverage.noneAt);
      expect(state.view.parts[3], key).toBe(0);
    }
    const rich = run.states.get('atk-halton') as GridSweepState;
    expect(rich.view.trafficDims).toBeGreaterThan(2 * config.coverage.noneAt);
    expect(rich.view.parts[3]).toBeGreaterThan(0);
    expect(run.lastEvidence.get('atk-halton')!.join('\n')).toMatch(/steps between the model's traffic's queries span \d+\.\d\)/);
  });

  it('stays quiet on natural traffic of the same volume: users, a what-if sweep, a heavy test-set replay, a heavy scripted user, a person on a few topics', () => {
    expect(naturalKeys).toEqual(expect.arrayContaining(['nat-whatif', 'nat-replay', 'nat-heavy']));
    for (const key of naturalKeys) expect(run.maxByKey.get(key), key).toBeLessThanOrEqual(QUIET);
    // The heavy keys were measured, not skipped: they have as many queries as the attacks.
    const heavy = run.states.get('nat-heavy') as GridSweepState;
    expect(heavy.view.wN).toBeGreaterThanOrEqual(config.prada.minDistances);
    expect(heavy.view.steps).toBeGreaterThanOrEqual(config.steps.minSteps);
  });

  it('reads a person revisiting a few topics as human: PRADA alone flags the distances, the repeats damp it', () => {
    const topics = run.states.get('nat-topics') as GridSweepState;
    expect(topics.view.repeats).toBeGreaterThanOrEqual(config.repeats.humanShare);
    expect(run.maxByKey.get('nat-topics')).toBeLessThanOrEqual(QUIET);
    // Without the damping the normality test alone would have alarmed on this person.
    const undamped = runDetector(gridSweep.create(gridSweep.configSchema.parse({ repeats: { damp: 1 }, prada: { weight: 1 } })), events, compute);
    expect(undamped.maxByKey.get('nat-topics')).toBeGreaterThan(0.5);
  });

  it('reads many one-feature sweeps of fresh records as an analyst: no lattice, direction or coverage evidence, below throttle', () => {
    const analyst = run.states.get('nat-analyst') as GridSweepState;
    expect(analyst.view.steps).toBeGreaterThanOrEqual(config.steps.minSteps);
    // The same feature is swept again and again, but each time in one run of its own.
    expect(analyst.view.parts.slice(1)).toEqual([0, 0, 0]);
    expect(analyst.view.turns).toBeLessThan(config.coverage.minTurns);
    expect(run.maxByKey.get('nat-analyst')).toBeLessThan(0.5);
    // Counting every step along a recurring direction, as before runs were counted, would flag the analyst.
    const byCount = runDetector(gridSweep.create(gridSweep.configSchema.parse({ steps: { minDirectionRuns: 1 } })), events, compute);
    expect((byCount.states.get('nat-analyst') as GridSweepState).view.parts[2]).toBeGreaterThan(0.5);
  });

  it('leaves straight continuations out of the distances: a what-if analyst\'s even steps do not read as synthetic', () => {
    const analyst = run.states.get('nat-analyst') as GridSweepState;
    const everyStep = runDetector(gridSweep.create(gridSweep.configSchema.parse({ prada: { straightCos: 1 } })), events, compute);
    const counted = everyStep.states.get('nat-analyst') as GridSweepState;
    // Each sweep adds its turn, not its steps.
    expect(analyst.distancesTotal).toBeLessThan(counted.distancesTotal / 4);
    // Counted step by step, the sweeps fail the normality test.
    expect(counted.view.parts[0]).toBeGreaterThan(0);
    expect(analyst.view.parts[0]).toBe(0);
  });

  it('leaves exact repeats out of the distances: a replayed test set adds nothing after its first round', () => {
    const replay = run.states.get('nat-replay') as GridSweepState;
    // 100 records replayed four times: at most 100 distances (one per distinct record), never 400.
    expect(replay.distancesTotal).toBeLessThanOrEqual(100);
    expect(replay.view.repeats).toBeGreaterThan(config.repeats.humanShare);
  });

  it('gives every event the same score whatever the poll size, and resumes identically from a snapshot', () => {
    const small = runDetector(create(), events, compute, 97);
    const large = run; // polls of 500
    let fired = 0;
    for (const e of events) {
      expect(small.scores.get(e.event_id), e.event_id).toBeCloseTo(large.scores.get(e.event_id)!, 6);
      if (large.scores.get(e.event_id)! >= FIRES) fired++;
    }
    expect(fired).toBeGreaterThan(100);
    expect(small.lastEvidence).toEqual(large.lastEvidence);

    const cut = Math.floor(events.length / 2);
    const first = runDetector(create(), events.slice(0, cut), compute, 500);
    const resumed = runDetector(create(), events.slice(cut), compute, 500, clone(first));
    for (const e of events.slice(cut)) expect(resumed.scores.get(e.event_id), e.event_id).toBeCloseTo(large.scores.get(e.event_id)!, 6);
  });

  it('keeps only the direction slots in use, and reads older snapshots (base64, every slot or those in use) the same way', () => {
    const stream = events.filter((e) => e.api_key === 'atk-grid').slice(0, 400);
    const whole = runDetector(create(), stream, compute, 500);
    const idle = runDetector(create(), stream.slice(0, 3), compute, 500);
    const state = idle.states.get('atk-grid') as GridSweepState;
    const used = state.protoSerial.filter((s) => s !== 0).length;
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThan(config.steps.directionSlots);
    expect(state.protos).toBeInstanceOf(Float32Array);
    expect((state.protos as Float32Array).length).toBe(used * state.protoDim);

    const compact = runDetector(create(), stream.slice(3), compute, 500, clone(idle));
    for (const everySlot of [false, true]) {
      const old = clone(idle);
      old.states.set('atk-grid', olderForm(old.states.get('atk-grid') as GridSweepState, { everySlot }));
      const fromOld = runDetector(create(), stream.slice(3), compute, 500, old);
      for (const e of stream.slice(3)) expect(fromOld.scores.get(e.event_id), e.event_id).toBe(whole.scores.get(e.event_id));
      expect(ringsInOrder(fromOld.states.get('atk-grid'))).toEqual(ringsInOrder(whole.states.get('atk-grid')));
    }
    // The form before the last query and its step were one vector: the two apart, as typed arrays, cut in mid-row
    // of the lattice too (where the step decides that the next query continues a straight run).
    for (const cut of [3, 5, 6, 7, 9]) {
      const apart = clone(runDetector(create(), stream.slice(0, cut), compute, 500));
      const held = apart.states.get('atk-grid') as GridSweepState;
      expect(lastApart(held).lastStep).toBeInstanceOf(Float32Array);
      apart.states.set('atk-grid', { ...held, ...lastApart(held) });
      const fromApart = runDetector(create(), stream.slice(cut), compute, 500, apart);
      for (const e of stream.slice(cut)) expect(fromApart.scores.get(e.event_id), e.event_id).toBe(whole.scores.get(e.event_id));
      expect({ ...(fromApart.states.get('atk-grid') as GridSweepState), lastStep: undefined }).toEqual(whole.states.get('atk-grid'));
    }
    for (const e of stream.slice(3)) expect(compact.scores.get(e.event_id), e.event_id).toBe(whole.scores.get(e.event_id));
    expect(Math.max(...stream.map((e) => whole.scores.get(e.event_id)!))).toBeGreaterThanOrEqual(FIRES);
    expect(compact.states.get('atk-grid')).toEqual(whole.states.get('atk-grid'));
  });

  it('lets keys not yet evaluated share one frozen view, which an evaluation replaces', () => {
    const stream = events.filter((e) => e.api_key === 'atk-grid').slice(0, 400);
    const a = create().initState();
    const b = create().initState();
    expect(a.view).toBe(b.view);
    expect(Object.isFrozen(a.view) && Object.isFrozen(a.view.parts) && Object.isFrozen(a.view.latticeSizes)).toBe(true);
    const run = runDetector(create(), stream, compute, 500);
    const view = (run.states.get('atk-grid') as GridSweepState).view;
    expect(view).not.toBe(a.view);
    expect(view.steps).toBeGreaterThan(0);
    expect(a.view.steps).toBe(0);
  });

  it('keeps the step moments as their upper triangle, and reads older snapshots (base64, the triangle or the whole matrix) the same way', () => {
    const stream = events.filter((e) => e.api_key === 'atk-grid').slice(0, 400);
    const whole = runDetector(create(), stream, compute, 500);
    for (const cut of [3, 150]) {
      const first = runDetector(create(), stream.slice(0, cut), compute, 500);
      const state = first.states.get('atk-grid') as GridSweepState;
      const d = state.protoDim;
      expect(d).toBeGreaterThan(1);
      const triangle = settledMoments(state);
      expect(triangle).toBeInstanceOf(Float32Array);
      expect(triangle.length).toBe((d * (d + 1)) / 2);
      expect(triangle.some((v) => v !== 0)).toBe(true);
      // A young key holds its turns (fewer bytes than the matrix), an older one the matrix.
      if (cut === 3) expect([(state.moments as Float32Array).length, state.turns!.length]).toEqual([0, d]); // the lattice's first turn; its second step runs on
      else expect([(state.moments as Float32Array).length, state.turns!.length]).toEqual([(d * (d + 1)) / 2, 0]);

      const fromSnapshot = runDetector(create(), stream.slice(cut), compute, 500, clone(first));
      for (const e of stream.slice(cut)) expect(fromSnapshot.scores.get(e.event_id), e.event_id).toBe(whole.scores.get(e.event_id));
      for (const fullMoments of [false, true]) {
        const old = clone(first);
        old.states.set('atk-grid', olderForm(old.states.get('atk-grid') as GridSweepState, { fullMoments }));
        const fromOld = runDetector(create(), stream.slice(cut), compute, 500, old);
        for (const e of stream.slice(cut)) expect(fromOld.scores.get(e.event_id), e.event_id).toBe(whole.scores.get(e.event_id));
        expect(ringsInOrder(fromOld.states.get('atk-grid'))).toEqual(ringsInOrder(whole.states.get('atk-grid')));
      }
    }
  });

  it('holds a young key\'s turns until they would outgrow the moments, then adds them bit for bit as each turn would have been', () => {
    const stream = events.filter((e) => e.api_key === 'atk-halton').slice(0, 60);
    const whole = runDetector(create(), stream, compute, 500);
    let held = 0;
    for (let cut = 2; cut <= stream.length; cut++) {
      // One event a poll, and through a snapshot each time: the held turns are state like any other.
      const state = runDetector(create(), stream.slice(0, cut), compute, 1).states.get('atk-halton') as GridSweepState;
      const d = state.protoDim;
      const turns = state.turns!.length / d;
      const moments = (state.moments as Float32Array).length;
      // Either turns held (no more bytes than the matrix would take), or the matrix and none held.
      if (moments === 0) expect(turns * d).toBeLessThanOrEqual((d * (d + 1)) / 2);
      else expect([moments, turns]).toEqual([(d * (d + 1)) / 2, 0]);
      held = Math.max(held, turns);
      if (cut === 50) {
        const resumed = runDetector(create(), stream.slice(cut), compute, 500, clone(runDetector(create(), stream.slice(0, cut), compute, 1)));
        expect(settledMoments(resumed.states.get('atk-halton') as GridSweepState)).toEqual(settledMoments(whole.states.get('atk-halton') as GridSweepState));
      }
    }
    expect(held).toBe(Math.floor((16 * 17) / 2 / 16));
    // The moments as an eager account of every turn gives them: the test's own sum of the held turns, then each turn added.
    const eager = olderForm(runDetector(create(), stream.slice(0, 6), compute, 500).states.get('atk-halton') as GridSweepState);
    const old = clone(runDetector(create(), stream.slice(0, 6), compute, 500));
    old.states.set('atk-halton', eager);
    const fromOld = runDetector(create(), stream.slice(6), compute, 500, old);
    expect(settledMoments(fromOld.states.get('atk-halton') as GridSweepState)).toEqual(settledMoments(whole.states.get('atk-halton') as GridSweepState));
    for (const e of stream.slice(6)) expect(fromOld.scores.get(e.event_id), e.event_id).toBe(whole.scores.get(e.event_id));
  });

  it('runs one batched distance call per poll for every key, against the growing sets', () => {
    const calls: MinDistanceJob[][] = [];
    const counting: Compute = { ...compute, backend: compute.backend, minDistances: (jobs) => (calls.push([...jobs]), compute.minDistances(jobs)) };
    const poll = events.slice(5_000, 5_500);
    const run = runDetector(create(), events.slice(0, 5_000), compute, 500);
    runDetector(create(), poll, counting, 500, run);
    // One call per poll, and a poll that spans an epoch of the model reference runs as one poll per epoch.
    expect(calls).toHaveLength(epochParts(poll, DEFAULT_REFERENCE.epochMs).length);
    expect(new Set(poll.map((e) => e.api_key)).size).toBeGreaterThan(10);
    expect(calls.flat().length).toBeGreaterThan(poll.length / 2);
    for (const job of calls.flat()) {
      expect(job.queries.length).toBe(job.dim);
      expect(job.refs.length / job.dim).toBeLessThanOrEqual(config.prada.maxPerClass);
    }
  });

  it('keeps its state under the documented 18 kB per key with every growing set full, however long the history', () => {
    const { world } = naturalScenario(11);
    // The worst case: answers over 50 labels (every growing set in use) and queries drifting ever
    // outwards, so each is far from the earlier ones and joins its set; 2,000 and 8,000 of them.
    const times = (n: number) => Array.from({ length: n }, (_, i) => 1_700_000_000_000 + i * 1_000);
    const sizes = [2_000, 8_000].map((n) => {
      const stream = times(n).map((t, i) => ({ ...world.event('k', world.record().map((v) => v * (1 + i / 50)), t), output_label: i % 50 }));
      const run = runDetector(create(), stream, compute, 1_000);
      const state = run.states.get('k') as GridSweepState;
      expect(state.sets.every((s) => s?.n === config.prada.maxPerClass)).toBe(true);
      // Exact-size arrays of their own: a member array holds its rows and nothing more.
      for (const set of state.sets) expect((set!.rows as Float32Array).buffer.byteLength).toBe(set!.n * set!.dim * 4);
      return encodeSection(state).length;
    });
    for (const bytes of sizes) expect(bytes).toBeLessThanOrEqual(18_000);
    expect(sizes[1]).toBeLessThan(1.02 * sizes[0]);
  });

  it('has a threshold for everything in its config: raising δ makes natural keys fire', () => {
    const strict = gridSweep.create(gridSweep.configSchema.parse({ prada: { delta: 0.999, wSpan: 0.01 } }));
    const run = runDetector(strict, events, compute);
    expect(run.maxByKey.get('nat-heavy')).toBeGreaterThan(QUIET);
  });
});
