import { beforeAll, describe, expect, it } from 'vitest';
import { outputDrift, outputDriftConfigSchema } from '../../detectors/outputDrift.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import { balancedClasses } from './helpers/attacks.ts';
import { testCompute } from './helpers/compute.ts';
import { runDetector } from './helpers/runDetector.ts';
import { ATTACK_START, attackTimes, FIRES, HOUR, naturalScenario, QUIET, T0 } from './helpers/scenario.ts';
import { background, humanTimes, merge, scriptTimes, World } from './helpers/world.ts';

let compute: Compute;
beforeAll(async () => {
  compute = await testCompute();
});

const config = (overrides: object = {}) => outputDriftConfigSchema.parse(overrides);

describe('output-drift', () => {
  it('fires on Knockoff-style adaptive sampling that balances the classes and stays quiet on natural traffic', () => {
    const { world, natural, naturalKeys } = naturalScenario();
    const attack = balancedClasses(world, 'atk-knockoff', attackTimes(world));
    const run = runDetector(outputDrift.create(config()), merge(natural, attack), compute);

    expect(run.maxByKey.get('atk-knockoff')).toBeGreaterThanOrEqual(FIRES);
    expect(run.lastEvidence.get('atk-knockoff')!.join(' ')).toMatch(
      /classes come back near-uniform \(balance [01]\.\d+ on a 0 natural … 1 uniform scale, z=\d+\.\d, over 400 answers; \d+% inputs distinct\)/,
    );
    for (const key of naturalKeys) expect(run.maxByKey.get(key) ?? 0, key).toBeLessThan(QUIET);
  });

  it('stays quiet on an evaluation job replaying a balanced test set', () => {
    const { world, natural } = naturalScenario();
    const set = balancedClasses(world, 'set', scriptTimes(world, 100, ATTACK_START));
    // 100 balanced records, replayed four times: the answers are as balanced as Knockoff's, but the inputs repeat.
    const times = scriptTimes(world, 400, ATTACK_START, 1_500);
    const replay = times.map((t, i) => ({ ...set[i % 100], api_key: 'nat-eval', event_id: `nat-eval-${i}`, ts: t }));
    const run = runDetector(outputDrift.create(config()), merge(natural, replay), compute);
    expect(run.lastScore.get('nat-eval')).toBeLessThan(QUIET);
  });

  it('gives divergence alone at most jsdMaxScore (keys of narrow use diverge too)', () => {
    const { world, natural } = naturalScenario();
    const narrow = humanTimes(world, 300, ATTACK_START, 20_000).map((t) => world.event('nat-narrow', world.record(4), t));
    const c = config();
    const run = runDetector(outputDrift.create(c), merge(natural, narrow), compute);
    const score = run.maxByKey.get('nat-narrow')!;
    expect(score).toBeGreaterThan(0);
    expect(score).toBeLessThanOrEqual(c.jsdMaxScore);
    expect(run.lastEvidence.get('nat-narrow')!.join(' ')).toMatch(/class mix of the last \d+ answers diverges from model credit-v3's: JSD=0\.\d{3} bits \(scored above 0\.\d{3}\)/);
  });

  it("reports drift of the model's whole output mix on its keys without escalating them", () => {
    const world = new World({ seed: 11 });
    const before = background(world, 30, 200, T0, 2 * HOUR, 'early');
    // From T0+2h the same users' traffic comes from the reversed class priors.
    const reversed = [...world.priors].reverse();
    const after = Array.from({ length: 30 }, (_, k) =>
      humanTimes(world, 200, T0 + 2 * HOUR + k * 1_000, 25_000).map((t) => world.event(`late-${k}`, world.record(world.sampleClass(reversed)), t)),
    ).flat();
    const c = config();
    const run = runDetector(outputDrift.create(c), merge(before, after), compute);

    const drift = (run.aggregates.get('model:credit-v3') as { drift: { jsd: number } | null }).drift;
    expect(drift).not.toBeNull();
    expect(drift!.jsd).toBeGreaterThan(c.driftLow);
    const late = [...run.lastEvidence].filter(([k]) => k.startsWith('late-'));
    expect(late.some(([, ev]) => ev.some((s) => /model credit-v3's output mix drifted JSD=0\.\d{3} bits between its last two epochs \(\d+ answers\)/.test(s)))).toBe(true);
    for (const [key] of late) expect(run.maxByKey.get(key)!, key).toBeLessThan(QUIET);
  });
});
