import { beforeAll, describe, expect, it } from 'vitest';
import { boundaryProbing, boundaryProbingConfigSchema } from '../../detectors/boundaryProbing.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import type { EpochHistogram } from '../../detectors/shared/EpochHistogram.ts';
import { referenceTail } from '../../detectors/shared/TailBaseline.ts';
import { lineSearches, marginSampler } from './helpers/attacks.ts';
import { testCompute } from './helpers/compute.ts';
import { runDetector } from './helpers/runDetector.ts';
import { attackTimes, ATTACK_START, FIRES, naturalScenario, QUIET, T0, VOLUME } from './helpers/scenario.ts';
import { sweepsAndShuffled } from './helpers/boundarySweeps.ts';
import { humanTimes, merge, scriptTimes } from './helpers/world.ts';

let compute: Compute;
beforeAll(async () => {
  compute = await testCompute();
});

const config = (overrides: object = {}) => boundaryProbingConfigSchema.parse(overrides);

describe('boundary-probing', () => {
  it('fires on margin sampling and stays quiet on natural traffic of the same volume', () => {
    const { world, natural, naturalKeys } = naturalScenario();
    const attack = marginSampler(world, 'atk-margin', attackTimes(world));
    const run = runDetector(boundaryProbing.create(config()), merge(natural, attack), compute);

    expect(run.maxByKey.get('atk-margin')).toBeGreaterThanOrEqual(FIRES);
    const evidence = run.lastEvidence.get('atk-margin')!.join(' ');
    expect(evidence).toMatch(/\d+% of recent answers \(window 200, \d+ seen\) had a top-1\/top-2 margin < 0\.\d+, against \d+\.\d% for model credit-v3's traffic near these queries \(z=\d+/);
    for (const key of naturalKeys) expect(run.maxByKey.get(key) ?? 0, key).toBeLessThan(QUIET);
    expect(run.lastEvidence.get('nat-heavy')).toEqual([]);
  });

  it('counts a machine-paced margin sampler\'s share as an extraction signature, and a person\'s with the same answers as an output statistic only', () => {
    const { world, natural } = naturalScenario();
    const script = marginSampler(world, 'atk-paced', attackTimes(world));
    const person = marginSampler(world, 'atk-person', humanTimes(world, 400, ATTACK_START));
    const run = runDetector(boundaryProbing.create(config()), merge(natural, script, person), compute);

    for (const key of ['atk-paced', 'atk-person']) expect(run.maxByKey.get(key), key).toBeGreaterThanOrEqual(FIRES);
    expect(run.maxSignatureByKey.get('atk-paced')).toBeGreaterThanOrEqual(FIRES);
    expect(run.lastEvidence.get('atk-paced')!.join(' ')).toMatch(/had a top-1\/top-2 margin < .*, from machine-paced calls \(inter-arrival CV 0\.\d+, from the gaps' log spread\)$/);
    expect(run.maxSignatureByKey.get('atk-person') ?? 0).toBe(0);
    expect(run.lastEvidence.get('atk-person')!.join(' ')).not.toMatch(/machine-paced/);

    const off = runDetector(boundaryProbing.create(config({ automated: { enabled: false } })), merge(natural, script), compute);
    expect(off.maxSignatureByKey.get('atk-paced') ?? 0).toBe(0);
  });

  it('recognises Lowd & Meek line searches from the sketches alone', () => {
    const { world, natural, naturalKeys } = naturalScenario();
    const attack = lineSearches(world, 'atk-lines', 30, 10, attackTimes(world));
    // The margin share is switched off (it can never reach minEvents) so only the bisection tracker scores.
    const run = runDetector(boundaryProbing.create(config({ minEvents: 1e9 })), merge(natural, attack), compute);

    expect(run.maxByKey.get('atk-lines')).toBeGreaterThanOrEqual(FIRES);
    expect(run.lastEvidence.get('atk-lines')!.join(' ')).toMatch(/^\d+\.\d line searches \(steps halving 6\+ times across a label flip; longest 10 halvings\)$/);
    for (const key of naturalKeys) expect(run.maxByKey.get(key) ?? 0, key).toBeLessThan(QUIET);
  });

  it('stays quiet on a person bisecting one feature by hand a few times', () => {
    const { world, natural } = naturalScenario();
    const person = lineSearches(world, 'nat-manual', 1, 5, scriptTimes(world, 7, ATTACK_START, 20_000));
    const run = runDetector(boundaryProbing.create(config()), merge(natural, person), compute);
    expect(run.maxByKey.get('nat-manual')).toBeLessThan(QUIET);
  });

  it('does not count straight what-if sweep continuations across a class boundary toward the small-margin share', () => {
    const { world, natural } = naturalScenario();
    // Sweeps of one feature across the nearest class boundary of a real record, in order and shuffled.
    const { sweeps, shuffled } = sweepsAndShuffled(world);
    const run = runDetector(boundaryProbing.create(config()), merge(natural, sweeps, shuffled), compute);

    expect(run.maxByKey.get('nat-sweeps') ?? 0).toBeLessThan(QUIET);
    // The control: the answers themselves have small margins often enough to fire once they are not a sweep.
    expect(run.maxByKey.get('nat-sweeps-shuffled')).toBeGreaterThanOrEqual(FIRES);
    expect(run.lastEvidence.get('nat-sweeps-shuffled')!.join(' ')).toMatch(/of recent answers \(window 200, \d+ seen\) had a top-1\/top-2 margin/);
  });

  it('keeps the model baseline where natural traffic put it while many keys probe the boundary', () => {
    const attack = (s: ReturnType<typeof naturalScenario>) =>
      Array.from({ length: 10 }, (_, k) => marginSampler(s.world, `atk-${k}`, scriptTimes(s.world, 3 * VOLUME, ATTACK_START - 30 * 60_000 + k * 1_000, 1_000)));
    const tail = (c: ReturnType<typeof config>, poisoned: boolean) => {
      const s = naturalScenario();
      // The baseline as it stands right after the campaign (the EWMA forgets it later anyway).
      const events = (poisoned ? merge(s.natural, ...attack(s)) : s.natural).filter((e) => e.ts < ATTACK_START + 30 * 60_000);
      const run = runDetector(boundaryProbing.create(c), events, compute);
      return referenceTail(run.aggregates.get('model:credit-v3') as EpochHistogram, c.baseline, 'low', c.marginQuantile, c.marginMin, c.marginMax)!;
    };
    // 10 keys sending 1,200 boundary queries each in 20 minutes, against ~4,000 natural queries an hour.
    const guarded = config();
    const before = tail(guarded, false);
    const after = tail(guarded, true);
    expect(Math.abs(after.threshold - before.threshold)).toBeLessThan(0.005);
    expect(after.expected).toBeCloseTo(guarded.marginQuantile, 2);
    // Without probation, lean and exclusion gates the same campaign drags the small-margin threshold down.
    const open = config({ baseline: { leanZ: 1e9, probationEvents: 0, excludeAboveScore: 1 } });
    expect(tail(open, false).threshold - tail(open, true).threshold).toBeGreaterThan(0.025);
  });

  it('scores nothing while the model baseline warms up', () => {
    const { world } = naturalScenario();
    const attack = marginSampler(world, 'atk-early', scriptTimes(world, 100, T0, 2_000));
    const run = runDetector(boundaryProbing.create(config()), attack, compute);
    expect(run.maxByKey.get('atk-early')).toBe(0);
    expect(run.lastEvidence.get('atk-early')).toEqual([]);
  });
});
