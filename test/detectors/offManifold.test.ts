import { beforeAll, describe, expect, it } from 'vitest';
import { offManifold, type OffManifoldState } from '../../detectors/offManifold.ts';
import { ModelReference } from '../../src/baselines/ModelReference.ts';
import type { ModelReferenceState } from '../../src/baselines/ModelReferenceState.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import { packArray } from '../../src/compute/packedVectors.ts';
import type { InferenceEvent } from '../../src/contract.ts';
import { encodeSection } from '../../src/state/SnapshotCodec.ts';
import { jacobianSteps, otherDataSet, uniformBox } from './helpers/attacks.ts';
import { testCompute } from './helpers/compute.ts';
import { DEFAULT_REFERENCE, type DetectorRun, referenceOf, runDetector } from './helpers/runDetector.ts';
import { restoredRun } from './helpers/snapshotRoundTrip.ts';
import { ATTACK_START, attackTimes, FIRES, HOUR, naturalScenario, QUIET, T0, VOLUME } from './helpers/scenario.ts';
import { background, humanTimes, merge, naturalKey, scriptTimes, sweepSessions, World } from './helpers/world.ts';

const config = offManifold.configSchema.parse({});
const create = () => offManifold.create(config);

/** Random probes hidden among natural queries, one natural record before each probe on average. */
function interleaved(world: World, key: string, times: number[]): InferenceEvent[] {
  return times.map((t, i) => (i % 2 === 0 ? world.event(key, world.record(), t) : world.event(key, Array.from({ length: world.dim }, () => (2 * world.uniform() - 1) * 5), t)));
}

/** One-feature what-if sweeps of 20–40 even steps across ±8 spreads (to well beyond the data), each around a fresh real record. */
function analystSessions(world: World, key: string, times: number[]): InferenceEvent[] {
  return sweepSessions(world, key, times, (s) => {
    const steps = 20 + ((s * 7) % 21);
    return { feature: [2, 5, 7, 1][s % 4], steps, at: (v, i) => v - 8 + (16 * i) / (steps - 1) };
  });
}

let compute: Compute;
let naturalKeys: string[];
let natural: InferenceEvent[];
let events: InferenceEvent[];
let run: DetectorRun;
beforeAll(async () => {
  compute = await testCompute();
  const scenario = naturalScenario(5);
  const w = scenario.world;
  natural = merge(scenario.natural, analystSessions(w, 'nat-analyst', attackTimes(w)));
  naturalKeys = [...scenario.naturalKeys, 'nat-analyst'];
  events = merge(natural, uniformBox(w, 'atk-random', attackTimes(w)), interleaved(w, 'atk-mixed', attackTimes(w)));
  run = runDetector(create(), events, compute);
});

describe('off-manifold', () => {
  it(`fires on uniform random queries (Tramèr et al. equation-solving) within ${VOLUME} queries, with the numbers behind it`, () => {
    expect(run.lastScore.get('atk-random')).toBeGreaterThanOrEqual(FIRES);
    expect(run.lastEvidence.get('atk-random')![0]).toMatch(
      /^\d+% of recent queries \(window 200, \d+ seen\) lie off model credit-v3's traffic \(nearest reference sketch farther than \d+\.\d{3}, the 99% quantile of its own\), against 1\.0% expected \(z=\d+\.\d\)$/,
    );
  });

  it('fires on random probes interleaved 1:1 with natural records', () => {
    expect(run.lastScore.get('atk-mixed')).toBeGreaterThanOrEqual(FIRES);
  });

  it('stays quiet on natural traffic: users, a what-if sweep, sessions of sweeps, a heavy test-set replay, a heavy scripted user', () => {
    for (const key of naturalKeys) expect(run.maxByKey.get(key), key).toBeLessThanOrEqual(QUIET);
    // The heavy keys were scored, not skipped.
    for (const key of ['nat-heavy', 'nat-replay']) expect((run.states.get(key) as OffManifoldState).share.n, key).toBeGreaterThanOrEqual(config.minEvents);
  });

  it('judges a short-lived key of random queries on what it surely did, before minEvents; a sweeping key waits', () => {
    const w = naturalScenario(5).world;
    const short = uniformBox(w, 'atk-short', attackTimes(w, 24));
    const withShort = merge(natural, short);
    const early = runDetector(create(), withShort, compute);
    expect(early.lastScore.get('atk-short')).toBeGreaterThanOrEqual(FIRES);
    // Without the early judgement the same 24 queries score nothing.
    const late = runDetector(offManifold.create(offManifold.configSchema.parse({ earlyEvents: config.minEvents })), withShort, compute);
    expect(late.lastScore.get('atk-short')).toBe(0);
    // The what-if analyst's scored queries are its sweeps' ends, far beyond the data: it sweeps, so it waits.
    expect(run.maxByKey.get('nat-analyst')).toBeLessThanOrEqual(QUIET);
    const everyKeyEarly = runDetector(offManifold.create(offManifold.configSchema.parse({ earlyMaxStraight: 1 })), events, compute);
    expect(everyKeyEarly.maxByKey.get('nat-analyst')).toBeGreaterThan(QUIET);
  });

  it('does not score the straight continuation of a sweep: scoring every step flags sessions of wide sweeps', () => {
    const analyst = run.states.get('nat-analyst') as OffManifoldState;
    // Only the turns of each sweep were scored.
    expect(analyst.share.n).toBeLessThan(VOLUME / 5);
    const everyStep = runDetector(offManifold.create(offManifold.configSchema.parse({ straightCos: 1 })), events, compute);
    expect((everyStep.states.get('nat-analyst') as OffManifoldState).share.n).toBeGreaterThan(VOLUME - 50);
    expect(everyStep.maxByKey.get('nat-analyst')).toBeGreaterThan(run.maxByKey.get('nat-analyst')!);
  });

  it('keeps attackers out of the reference: its threshold is the same with and without them', () => {
    const clean = runDetector(create(), natural, compute);
    const threshold = (r: DetectorRun) => new ModelReference('credit-v3', referenceOf(r, 'credit-v3') as ModelReferenceState, DEFAULT_REFERENCE).quantile(config.quantile);
    expect(threshold(run)).toBeGreaterThan(0);
    expect(Math.abs(threshold(run) - threshold(clean)) / threshold(clean)).toBeLessThan(0.1);
  });

  it('gives every event the same score whatever the poll size, and resumes identically from a snapshot, or from the older form with base64 sketches', () => {
    const small = runDetector(create(), events, compute, 97);
    let fired = 0;
    for (const e of events) {
      expect(small.scores.get(e.event_id), e.event_id).toBeCloseTo(run.scores.get(e.event_id)!, 9);
      if (run.scores.get(e.event_id)! >= FIRES) fired++;
    }
    expect(fired).toBeGreaterThan(100);
    const cut = Math.floor(events.length / 2);
    const first = runDetector(create(), events.slice(0, cut), compute, 500);
    const restored = restoredRun(first);
    for (const state of restored.states.values()) expect((state as OffManifoldState).offRing ?? new Float32Array(0)).toBeInstanceOf(Float32Array);
    const resumed = runDetector(create(), events.slice(cut), compute, 500, restored);
    for (const e of events.slice(cut)) expect(resumed.scores.get(e.event_id), e.event_id).toBeCloseTo(run.scores.get(e.event_id)!, 9);
    // Snapshots written before the sketches were kept in typed arrays: base64, '' for none.
    const older = restoredRun(first);
    for (const state of older.states.values()) {
      const s = state as unknown as Record<string, unknown>;
      for (const k of ['offRing', 'minorRing', 'minorMean', 'backlog', 'last', 'step']) {
        if (s[k] instanceof Float32Array) s[k] = packArray(s[k]);
        else if (k === 'last' || k === 'step' || k === 'backlog') s[k] = '';
      }
    }
    const fromOlder = runDetector(create(), events.slice(cut), compute, 500, older);
    for (const e of events.slice(cut)) expect(fromOlder.scores.get(e.event_id), e.event_id).toBe(resumed.scores.get(e.event_id));
  });

  it('keeps its state small: under 1.2 kB per key and its minor-direction places, the model reference within its documented ceiling', () => {
    for (const [key, state] of run.states) {
      const { minorRing, minorShare, ...rest } = state as OffManifoldState;
      expect(encodeSection(rest).length, key).toBeLessThan(1200);
      // Up to `places` sketches of the reference's width, float32, and a share.
      expect(minorRing?.length ?? 0, key).toBeLessThanOrEqual(config.places * DEFAULT_REFERENCE.width);
      expect(JSON.stringify(minorShare ?? {}).length, key).toBeLessThan(80);
    }
    const ref = referenceOf(run, 'credit-v3') as ModelReferenceState;
    expect(ref.n).toBeLessThanOrEqual(DEFAULT_REFERENCE.size);
    // Two blocks of size × (dim + 7) float32 as base64, plus a few numbers.
    expect(JSON.stringify(ref).length).toBeLessThan(2 * Math.ceil((DEFAULT_REFERENCE.size * (DEFAULT_REFERENCE.dim + 7) * 4) / 3) * 4 + 300);
  });

  it('fires on a script sending natural records of another data set (a Knockoff Nets transfer set) within 100 queries, not on a person sending them', () => {
    const { world: w, natural: traffic } = naturalScenario(9);
    // Another deployment's data: the same kind of records, three of ten features shifted by two spreads.
    const script = otherDataSet(w, 'atk-transfer', attackTimes(w), [0, 1, 2], 2);
    const person = otherDataSet(w, 'nat-elsewhere', humanTimes(w, VOLUME, ATTACK_START), [0, 1, 2], 2);
    const stream = merge(traffic, script, person);
    const firstFiring = (r: DetectorRun, events: InferenceEvent[]) => events.findIndex((e) => r.scores.get(e.event_id)! >= FIRES);
    const r = runDetector(create(), stream, compute);
    expect(firstFiring(r, script)).toBeGreaterThanOrEqual(config.minEvents - 1);
    expect(firstFiring(r, script)).toBeLessThan(100);
    expect(r.lastEvidence.get('atk-transfer')![0]).toMatch(/the 95% quantile of its own\), against 5\.0% expected \(z=[\d.]+\), from machine-paced calls \(inter-arrival CV 0\.\d+, from the gaps' log spread\)$/);
    // The person's records are as far off, but at a person's pace only the 99% test counts: below throttle (0.5).
    expect(r.maxByKey.get('nat-elsewhere')).toBeLessThan(0.5);
    for (const key of new Set(traffic.map((e) => e.api_key))) expect(r.maxByKey.get(key) ?? 0, key).toBeLessThanOrEqual(QUIET);
    // Without the looser test for machine-paced keys the script goes unnoticed too.
    const strictOnly = runDetector(offManifold.create(offManifold.configSchema.parse({ automated: { enabled: false } })), stream, compute);
    expect(strictOnly.maxByKey.get('atk-transfer')).toBeLessThan(0.5);
  });

  it('judges a short-lived script on its first gaps when they surely show machine pacing: many throwaway keys of off-traffic records', () => {
    const { world: w, natural: traffic } = naturalScenario(9);
    // Eight throwaway keys of 24 calls each, an hour apart, sending records three spreads off on three features:
    // a script on a 3 s timer (±10%) and a person at a person's pace, side by side.
    const parts = [traffic];
    for (let k = 0; k < 8; k++) {
      parts.push(otherDataSet(w, `atk-short-${k}`, scriptTimes(w, 24, ATTACK_START + k * HOUR, 3_000, 0.1), [0, 1, 2], 3));
      parts.push(otherDataSet(w, `nat-short-${k}`, humanTimes(w, 24, ATTACK_START + k * HOUR, 20_000), [0, 1, 2], 3));
    }
    const stream = merge(...parts);
    const r = runDetector(create(), stream, compute);
    // Waiting for 30 gaps and taking the CV as estimated, the script keys end before their pacing counts.
    const waiting = runDetector(offManifold.create(offManifold.configSchema.parse({ automated: { minGaps: 30, paceZ: 0 } })), stream, compute);
    for (let k = 0; k < 8; k++) {
      expect(r.maxByKey.get(`atk-short-${k}`), `atk-short-${k}`).toBeGreaterThanOrEqual(FIRES);
      expect(waiting.maxByKey.get(`atk-short-${k}`), `atk-short-${k}`).toBeLessThan(0.5);
      // A person's gaps never pass for a script's: only the main test speaks for them, as it did before.
      expect(r.maxByKey.get(`nat-short-${k}`), `nat-short-${k}`).toBe(waiting.maxByKey.get(`nat-short-${k}`));
    }
    for (const key of new Set(traffic.map((e) => e.api_key))) expect(r.maxByKey.get(key) ?? 0, key).toBeLessThanOrEqual(QUIET);
  });

  it('counts a place off the manifold once: quiet on a person who keeps returning to one, firing on random probes', () => {
    const { world: w, natural: traffic } = naturalScenario(10);
    // A person whose records all sit in one spot the traffic never visits (three features four spreads out), asked again and again with small variations.
    const home = w.record().map((v, i) => (i < 3 ? v + 4 * w.sigma : v));
    const person = humanTimes(w, 200, ATTACK_START).map((t) => w.event('nat-faraway', home.map((v) => v + 0.05 * w.gauss()), t));
    const probes = uniformBox(w, 'atk-random', attackTimes(w, 200));
    const stream = merge(traffic, person, probes);
    const r = runDetector(create(), stream, compute);
    expect(r.maxByKey.get('nat-faraway')).toBeLessThanOrEqual(QUIET);
    expect(r.lastScore.get('atk-random')).toBeGreaterThanOrEqual(FIRES);
    const everyQuery = runDetector(offManifold.create(offManifold.configSchema.parse({ places: 0 })), stream, compute);
    expect(everyQuery.maxByKey.get('nat-faraway')).toBeGreaterThanOrEqual(FIRES);
  });

  it('has a threshold for everything in its config: a lower quantile makes natural keys fire', () => {
    const strict = runDetector(offManifold.create(offManifold.configSchema.parse({ quantile: 0.5, excessLow: 0.05, excessHigh: 0.1 })), natural, compute);
    expect(Math.max(...naturalKeys.map((k) => strict.maxByKey.get(k) ?? 0))).toBeGreaterThan(QUIET);
  });

  it('judges the queries a key made while the reference warmed up as soon as it exists (random probing from the first minute)', () => {
    const { world: w, natural: early } = naturalScenario(8);
    // Uniform random queries every 30 s from T0: the first few dozen come before the model's reference exists.
    const trickle = uniformBox(w, 'atk-trickle', scriptTimes(w, 200, T0, 30_000));
    const stream = merge(early, trickle);
    const withBacklog = runDetector(create(), stream, compute);
    const without = runDetector(offManifold.create(offManifold.configSchema.parse({ backlog: 0 })), stream, compute);
    const firstFiring = (r: DetectorRun) => trickle.findIndex((e) => r.scores.get(e.event_id)! >= FIRES);
    expect(firstFiring(withBacklog)).toBeGreaterThan(0);
    expect(firstFiring(without)).toBeGreaterThan(firstFiring(withBacklog) + 15);
    // Nobody natural was flagged by the held queries, and the held sketches are gone once judged.
    for (const key of new Set(early.map((e) => e.api_key))) expect(withBacklog.maxByKey.get(key) ?? 0, key).toBeLessThanOrEqual(QUIET);
    for (const [key, state] of withBacklog.states) expect((state as OffManifoldState).backlog, key).toBeUndefined();
  });

  it('holds the newest `backlog` queries while the reference warms up, whatever the poll size, each held in an array of its own', () => {
    // A lone key's random queries: no reference gets ready, so every one is held.
    const w = new World({ seed: 12 });
    const probes = uniformBox(w, 'atk-early', scriptTimes(w, 11, T0, 30_000));
    const held = (batchSize: number) => {
      const r = runDetector(offManifold.create(offManifold.configSchema.parse({ backlog: 4 })), probes, compute, batchSize);
      return (r.states.get('atk-early') as OffManifoldState).backlog as Float32Array;
    };
    const whole = held(500);
    const dim = whole.length / 4;
    expect(dim).toBeGreaterThanOrEqual(2);
    // The last four queries' sketch prefixes, as float32, oldest first.
    expect([...whole]).toEqual([...Float32Array.from(probes.slice(-4).flatMap((e) => e.input_sketch.slice(0, dim)))]);
    for (const batchSize of [1, 3, 4, 5]) expect(held(batchSize), String(batchSize)).toEqual(whole);
    // No spare room kept between polls.
    expect(whole.buffer.byteLength).toBe(whole.byteLength);
  });

  it('fires on Jacobian augmentation where the raw inputs are wider than the sketch, by the energy along the minor directions; natural keys stay quiet', () => {
    // 24 raw features on a rank-12 subspace, sketched to 16 coordinates: the nearest-neighbour test's first 8 hold no room off the data.
    const w = new World({ seed: 21, dim: 24, rank: 12, classes: 3 });
    const seeds = 50;
    const people = merge(background(w, 40, VOLUME, T0, 4 * HOUR), naturalKey(w, 'nat-heavy', VOLUME, scriptTimes(w, VOLUME, ATTACK_START)));
    const attack = jacobianSteps(w, 'atk-jbda', attackTimes(w), seeds);
    const stream = merge(people, attack);
    const firstFiring = (r: DetectorRun) => attack.findIndex((e) => r.scores.get(e.event_id)! >= FIRES);
    const withMinor = runDetector(create(), stream, compute);
    // Within the attack's VOLUME queries, and not on its seeds.
    const fired = firstFiring(withMinor);
    expect(fired).toBeGreaterThanOrEqual(seeds);

    expect(withMinor.lastEvidence.get('atk-jbda')![0]).toMatch(
      /^\d+% of recent queries \(window 64, \d+ seen\) lie off model credit-v3's traffic along the \d+ directions? in which it varies least \(\d+\.\d% of its variance over 16 sketch coordinates; whitened energy above \d+\.\d+, the 95% quantile of its own\), against 5\.0% expected \(z=\d+\.\d\)$/,
    );
    for (const key of new Set(people.map((e) => e.api_key))) expect(withMinor.maxByKey.get(key), key).toBeLessThanOrEqual(QUIET);
    // Without the test the same steps pass: the nearest-neighbour test alone does not see them.
    const without = runDetector(offManifold.create(offManifold.configSchema.parse({ minor: { enabled: false } })), stream, compute);
    expect(firstFiring(without)).toBe(-1);
  });

  it('judges a key’s minor-direction energy about its own mean: users of a shifted segment stay quiet, about the traffic’s mean the same records would score', () => {
    // 24 raw features on a rank-12 subspace; a segment whose records sit off it by one offset in three features.
    const w = new World({ seed: 23, dim: 24, rank: 12, classes: 3 });
    const people = background(w, 40, VOLUME, T0, 4 * HOUR);
    const segment = [0, 1, 2].flatMap((i) => otherDataSet(w, `segment-${i}`, humanTimes(w, 300, ATTACK_START + i * HOUR), [3, 7, 11], 1));
    const stream = merge(people, segment);
    const own = runDetector(create(), stream, compute);
    const traffic = runDetector(offManifold.create(offManifold.configSchema.parse({ minor: { ownMean: false } })), stream, compute);
    for (let i = 0; i < 3; i++) {
      expect(own.maxByKey.get(`segment-${i}`), `segment-${i}`).toBeLessThanOrEqual(QUIET);
      expect(traffic.maxByKey.get(`segment-${i}`), `segment-${i} about the traffic’s mean`).toBeGreaterThan(0.5);
    }
  });

  it('leaves the minor-direction test off where the members do not fill the compared coordinates (raw inputs narrower than them)', () => {
    const w = new World({ seed: 22, dim: 6, classes: 3 });
    const r = runDetector(create(), merge(background(w, 40, VOLUME, T0, 4 * HOUR), jacobianSteps(w, 'atk-jbda', attackTimes(w))), compute);
    for (const state of r.states.values()) expect((state as OffManifoldState).minorShare, 'minor share').toBeUndefined();
  });
});

