import { beforeAll, describe, expect, it } from 'vitest';
import { entropy, entropyConfigSchema } from '../../detectors/entropy.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import { marginSampler, uniformBox } from './helpers/attacks.ts';
import { testCompute } from './helpers/compute.ts';
import { runDetector } from './helpers/runDetector.ts';
import { ATTACK_START, attackTimes, FIRES, naturalScenario, QUIET } from './helpers/scenario.ts';
import { sweepsAndShuffled } from './helpers/boundarySweeps.ts';
import { humanTimes, merge, scriptTimes } from './helpers/world.ts';

let compute: Compute;
beforeAll(async () => {
  compute = await testCompute();
});

const config = (overrides: object = {}) => entropyConfigSchema.parse(overrides);

describe('entropy', () => {
  it('fires on uncertainty sampling (high-entropy answers) and stays quiet on natural traffic of the same volume', () => {
    const { world, natural, naturalKeys } = naturalScenario();
    const attack = marginSampler(world, 'atk-uncertain', attackTimes(world));
    const run = runDetector(entropy.create(config()), merge(natural, attack), compute);

    expect(run.maxByKey.get('atk-uncertain')).toBeGreaterThanOrEqual(FIRES);
    expect(run.lastEvidence.get('atk-uncertain')!.join(' ')).toMatch(/\d+% of recent answers \(window 200, \d+ seen\) had normalised entropy > 0\.\d+, against \d+\.\d% for model credit-v3's traffic near these queries \(z=\d+/);
    for (const key of naturalKeys) expect(run.maxByKey.get(key) ?? 0, key).toBeLessThan(QUIET);
    // Uncertain answers are an output statistic, not an extraction signature, even from a script: honest users from elsewhere get them
    // too, and a scripted stratified evaluation set where the classes are imbalanced (boundary-probing's narrower small margins carry the paced signature).
    expect(run.maxSignatureByKey.get('atk-uncertain') ?? 0).toBeLessThan(QUIET);
  });

  it('fires on queries spread over the input box through locality-sensitive bucket occupancy', () => {
    const { world, natural, naturalKeys } = naturalScenario();
    const attack = uniformBox(world, 'atk-box', humanTimes(world, 400, ATTACK_START, 20_000));
    const run = runDetector(entropy.create(config()), merge(natural, attack), compute);

    expect(run.maxByKey.get('atk-box')).toBeGreaterThanOrEqual(FIRES);
    const evidence = run.lastEvidence.get('atk-box')!.join(' ');
    expect(evidence).toMatch(/last 128 queries fell in \d+ input buckets, \d\.\dx the \d+ expected from model credit-v3's traffic; \d+% of 400 inputs distinct/);
    expect(evidence).not.toMatch(/machine-regular/); // human timing: the diversity alone fired
    for (const key of naturalKeys) expect(run.maxByKey.get(key) ?? 0, key).toBeLessThan(QUIET);
    // Covering far more of the input space than the model's traffic does is an extraction signature.
    expect(run.maxSignatureByKey.get('atk-box')).toBeGreaterThanOrEqual(FIRES);
    for (const key of naturalKeys) expect(run.maxSignatureByKey.get(key) ?? 0, key).toBeLessThan(QUIET);
  });

  it('lets machine-regular timing amplify other evidence but never fire alone', () => {
    const { world, natural } = naturalScenario();
    const c = config({ occupancyHigh: 3 }); // keep the diversity score below 1 so the boost shows
    // The same 400 box queries from two keys, one at a person's pace, one on a 2 s timer.
    const xs = Array.from({ length: 400 }, () => Array.from({ length: world.dim }, () => (2 * world.uniform() - 1) * 5));
    const human = humanTimes(world, 400, ATTACK_START, 20_000).map((t, i) => world.event('atk-box-human', xs[i], t));
    const script = scriptTimes(world, 400, ATTACK_START, 2_000).map((t, i) => world.event('atk-box-script', xs[i], t));
    const run = runDetector(entropy.create(c), merge(natural, human, script), compute);

    const h = run.lastScore.get('atk-box-human')!;
    const s = run.lastScore.get('atk-box-script')!;
    expect(h).toBeGreaterThan(0);
    expect(h).toBeLessThan(1);
    expect(s).toBeCloseTo(Math.min(1, h * (1 + c.regularityBoost)), 1);
    expect(run.lastEvidence.get('atk-box-script')!.join(' ')).toMatch(/inter-arrival CV 0\.0\d \(from the gaps' log spread\) over \d+ gaps \(typically 2\.00 s\): machine-regular/);
    // The heavy scripted users of the natural scenario: metronomic, and no more than regularityAloneScore.
    for (const key of ['nat-heavy', 'nat-replay']) {
      expect(run.maxByKey.get(key), key).toBeLessThanOrEqual(c.regularityAloneScore + 1e-9);
      expect(run.lastEvidence.get(key)!.join(' '), key).toMatch(/machine-regular/);
    }
  });

  it('damps bucket diversity once a key replays the same inputs', () => {
    const { world, natural } = naturalScenario();
    const set = Array.from({ length: 100 }, () => Array.from({ length: world.dim }, () => (2 * world.uniform() - 1) * 5));
    // The same 100 box queries, replayed four times: exact hashes repeat, so 25% of inputs are distinct.
    const replayed = humanTimes(world, 400, ATTACK_START, 20_000).map((t, i) => world.event('atk-box-replayed', set[i % 100], t));
    const run = runDetector(entropy.create(config()), merge(natural, replayed), compute);
    // The first pass looks like any spread-out key; once the inputs repeat, the diversity no longer counts.
    expect(run.lastScore.get('atk-box-replayed')).toBeLessThan(QUIET);
    // The same queries sent once each (no repeats) do fire: the damping is what kept the replay quiet.
    const fresh = humanTimes(world, 400, ATTACK_START, 20_000).map((t) => world.event('atk-box-fresh', set[0].map(() => (2 * world.uniform() - 1) * 5), t));
    expect(runDetector(entropy.create(config()), merge(natural, fresh), compute).lastScore.get('atk-box-fresh')).toBeGreaterThanOrEqual(FIRES);
  });

  it('does not count straight what-if sweep continuations across a class boundary toward the high-entropy share', () => {
    const { world, natural } = naturalScenario();
    // Sweeps of one feature across the nearest class boundary of a real record, in order and shuffled.
    const { sweeps, shuffled } = sweepsAndShuffled(world);
    const run = runDetector(entropy.create(config()), merge(natural, sweeps, shuffled), compute);

    expect(run.maxByKey.get('nat-sweeps') ?? 0).toBeLessThan(QUIET);
    // The control: the answers themselves are uncertain enough to fire once they are not a sweep.
    expect(run.maxByKey.get('nat-sweeps-shuffled')).toBeGreaterThanOrEqual(FIRES);
    expect(run.lastEvidence.get('nat-sweeps-shuffled')!.join(' ')).toMatch(/of recent answers \(window 200, \d+ seen\) had normalised entropy/);
  });
});
