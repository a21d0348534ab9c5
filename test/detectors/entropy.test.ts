import { beforeAll, describe, expect, it } from 'vitest';
import { entropy, entropyConfigSchema } from '../../detectors/entropy.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import { marginSampler, uniformBox } from './helpers/attacks.ts';
import { testCompute } from './helpers/compute.ts';
import { runDetector } from './helpers/runDetector.ts';
import { ATTACK_START, attackTimes, FIRES, naturalScenario, QUIET } from './helpers/scenario.ts';
import { humanTimes, merge, scriptTimes, type World } from './helpers/world.ts';

const argmax = (p: number[]) => p.indexOf(Math.max(...p));

/**
 * What-if sweeps that straddle a class boundary: a real record, the one feature along which its predicted
 * class flips nearest, and `steps` even steps of that feature across the flip (±`half` around it).
 */
function boundarySweeps(world: World, sweeps: number, steps: number, half = 0.6): number[][] {
  const out: number[][] = [];
  while (out.length < sweeps * steps) {
    const base = world.record();
    const cls = argmax(world.probs(base));
    let best: { f: number; at: number } | null = null;
    for (let f = 0; f < world.dim; f++) {
      for (const dir of [-1, 1]) {
        const at = (d: number) => base.map((v, i) => (i === f ? v + dir * d : v));
        if (argmax(world.probs(at(6))) === cls) continue;
        let lo = 0;
        let hi = 6;
        for (let k = 0; k < 30; k++) {
          const mid = (lo + hi) / 2;
          if (argmax(world.probs(at(mid))) === cls) lo = mid;
          else hi = mid;
        }
        if (!best || lo < Math.abs(best.at - base[f])) best = { f, at: base[f] + dir * lo };
      }
    }
    if (!best) continue;
    for (let s = 0; s < steps; s++) out.push(base.map((v, i) => (i === best.f ? best.at - half + (2 * half * s) / (steps - 1) : v)));
  }
  return out;
}

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
    expect(run.lastEvidence.get('atk-box-script')!.join(' ')).toMatch(/inter-arrival CV 0\.0\d over \d+ gaps \(mean 2\.00 s\): machine-regular/);
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
    // 14 sweeps of 30 even steps of one feature, each across the nearest class boundary of a real record.
    const xs = boundarySweeps(world, 14, 30);
    const times = humanTimes(world, xs.length, ATTACK_START, 20_000);
    const sweeps = times.map((t, i) => world.event('nat-sweeps', xs[i], t));
    // The same queries in a random order: no step continues the one before, so every uncertain answer counts.
    const order = xs.map((_, i) => i).sort(() => world.uniform() - 0.5);
    const shuffled = times.map((t, i) => world.event('nat-sweeps-shuffled', xs[order[i]], t));
    const run = runDetector(entropy.create(config()), merge(natural, sweeps, shuffled), compute);

    expect(run.maxByKey.get('nat-sweeps') ?? 0).toBeLessThan(QUIET);
    // The control: the answers themselves are uncertain enough to fire once they are not a sweep.
    expect(run.maxByKey.get('nat-sweeps-shuffled')).toBeGreaterThanOrEqual(FIRES);
    expect(run.lastEvidence.get('nat-sweeps-shuffled')!.join(' ')).toMatch(/of recent answers \(window 200, \d+ seen\) had normalised entropy/);
  });
});
