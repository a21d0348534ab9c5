import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { latticeLevels } from '../../../benchmarks/quality/attacks/LatticeSweep.ts';
import { defaultConfig } from '../../../benchmarks/quality/baselines/pipelines.ts';
import { familyBarLine, familyMatrix, worldBlock, worldSummaryTable, worstWorldLine } from '../../../benchmarks/quality/report/worldsTables.ts';
import { Rng } from '../../../benchmarks/quality/Rng.ts';
import { TINY } from '../../../benchmarks/quality/Scenario.ts';
import { Gateway } from '../../../benchmarks/quality/world/Gateway.ts';
import type { WorldDetection } from '../../../benchmarks/quality/worlds/detectWorld.ts';
import { runFamily } from '../../../benchmarks/quality/worlds/runFamily.ts';
import { familyWorlds, SPLIT_SEEDS, WORLD_TEMPLATES } from '../../../benchmarks/quality/worlds/worldFamily.ts';
import { buildWorld, SOFTMAX, type WorldSpec } from '../../../benchmarks/quality/worlds/WorldSpec.ts';
import { ReferenceCompute } from '../../../src/compute/ReferenceCompute.ts';

const BENIGN = ['interactive users', 'batch scorers', 'what-if analysts', 'regression testers', 'users from elsewhere'];

describe('the family of worlds', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('keeps dev and validation seeds disjoint and names three real tables and the issue\'s priors', () => {
    expect(SPLIT_SEEDS.dev.some((s) => SPLIT_SEEDS.validation.includes(s))).toBe(false);
    const kinds = new Set(WORLD_TEMPLATES.map((t) => t.data.kind));
    for (const k of ['weather', 'penguins', 'cars', 'synthetic']) expect(kinds.has(k as never)).toBe(true);
    const priors = WORLD_TEMPLATES.flatMap((t) => (t.data.kind === 'synthetic' && t.data.prior ? [t.data.prior.join('/')] : []));
    expect(priors).toContain('0.7/0.2/0.1');
    expect(priors).toContain('0.95/0.05');
    expect(WORLD_TEMPLATES.some((t) => t.data.kind === 'synthetic' && t.data.priorShape === 'near-uniform')).toBe(true);
    expect(familyWorlds('validation')).toHaveLength(WORLD_TEMPLATES.length * SPLIT_SEEDS.validation.length);
    expect(familyWorlds('dev', ['cars']).map((w) => w.seed)).toEqual([...SPLIT_SEEDS.dev]);
    expect(() => familyWorlds('dev', ['mars'])).toThrow(/unknown world mars/);
  });

  it('sketches a wide world at the SDK default width and sends every raw feature in the request', () => {
    const built = buildWorld({ name: 'ci-wide', data: { kind: 'synthetic', features: 24, classes: 3, rows: 300, foreignRows: 60 }, victim: SOFTMAX, seed: 3 }, 0.05);
    const { world } = built;
    expect(world.features).toHaveLength(24);
    expect(world.resolution).toHaveLength(24);
    expect(world.prior.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    const gateway = new Gateway(world, new Rng(1));
    const x = world.testX[0];
    const e = gateway.event({ apiKey: 'k', tenant: null, clientIp: '10.0.0.1' }, x, { probs: world.testVictimProbs[0], label: 0, status: 200 }, 0, 'e1', null);
    expect(e.input_sketch).toHaveLength(16);
    expect(Object.keys(JSON.parse(gateway.canonicalInput(x)))).toEqual([...world.features]);
    expect(e.model_id).toBe('ci-wide-softmax');
    world.victim.model.dispose();
  });

  it('grids a wide world within the budget: the first features at three levels or more, the rest at the centre', () => {
    for (const [dims, budget] of [[24, 1000], [64, 120], [10, 300]]) {
      const levels = latticeLevels(dims, budget);
      expect(levels).toHaveLength(dims);
      expect(levels.reduce((a, b) => a * b, 1)).toBeLessThanOrEqual(budget);
      expect(levels[0]).toBeGreaterThanOrEqual(3);
      expect(levels[dims - 1]).toBeLessThanOrEqual(2);
    }
    expect(latticeLevels(5, 2000)).toEqual([5, 5, 5, 4, 4]);
  });

  it('runs a real and a synthetic world end to end: every population calls, every key replays to the same RiskScore', async () => {
    const specs: WorldSpec[] = [
      { name: 'penguins', data: { kind: 'penguins' }, victim: SOFTMAX, seed: 1 },
      { name: 'ci-synthetic', data: { kind: 'synthetic', classes: 4, prior: [0.55, 0.25, 0.15, 0.05], features: 10, rows: 600, foreignRows: 150 }, victim: SOFTMAX, seed: 2 },
    ];
    const config = defaultConfig();
    const worlds: WorldDetection[] = await runFamily(specs, TINY, config, new ReferenceCompute(), { pollMs: 5000, victimPassesScale: 0.1 });
    expect(worlds.map((w) => `${w.name}#${w.seed}`)).toEqual(['penguins#1', 'ci-synthetic#2']);
    for (const w of worlds) {
      const names = w.populations.map((p) => p.population);
      for (const b of BENIGN) expect(names).toContain(b);
      expect(w.populations.filter((p) => p.kind === 'attack').length).toBeGreaterThanOrEqual(9);
      for (const p of w.populations) {
        expect(p.calls).toBeGreaterThan(0);
        expect(p.truncate.keys).toBeLessThanOrEqual(p.throttle.keys);
        expect(p.maxRisk).toBeGreaterThanOrEqual(0);
        expect(p.maxRisk).toBeLessThanOrEqual(1);
      }
      expect(w.populations.reduce((s, p) => s + p.calls, 0)).toBe(w.events);
      expect(w.replay.mismatched).toBe(0);
      expect(w.replay.keys).toBe(w.keys);
      expect(w.replay.events).toBe(w.events);
      expect(worldBlock(w)).toContain(`${w.name}#${w.seed}`);
      // The closest honest key: its risk is the highest of any honest population's, its signature score a signature detector's.
      const honest = w.populations.filter((p) => p.kind === 'benign');
      expect(w.honestMargin.risk.value).toBe(Math.max(...honest.map((p) => p.maxRisk)));
      expect(honest.map((p) => p.population)).toContain(w.honestMargin.risk.population);
      if (w.honestMargin.signature.value > 0) {
        expect(['grid-sweep', 'recurring-offsets', 'off-manifold']).toContain(w.honestMargin.signature.detector);
        expect(honest.map((p) => p.population)).toContain(w.honestMargin.signature.population);
      }
      expect(w.honestMargin.signature.value).toBeLessThanOrEqual(1);
    }
    const matrix = familyMatrix(worlds);
    for (const p of worlds[0].populations) expect(matrix).toContain(`| ${p.population} |`);
    expect(worldSummaryTable(worlds).split('\n')).toHaveLength(2 + worlds.length);
    expect(worldSummaryTable(worlds)).toContain(`| ${worlds[0].honestMargin.risk.value.toFixed(2)} (${worlds[0].honestMargin.risk.population}) · `);
    expect(worstWorldLine(worlds)).toMatch(/^WORST WORLD — honest keys: .*MEAN over 2 worlds/);
    expect(familyBarLine(worlds)).toMatch(/^BAR \(issue 10, detection part\) (MET|NOT MET): .*replay check identical in every world\.$/);
  }, 240_000);
});
