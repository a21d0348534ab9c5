import { describe, expect, it } from 'vitest';
import { DETECTORS } from '../../detectors/index.ts';
import { OFFLOADED, planOffload, shardOf } from '../../src/parallel/offloadPlan.ts';

const ALL = DETECTORS.map((d) => d.name);

describe('planOffload', () => {
  it('gives every offloaded detector to exactly one worker, sharded ones to every worker, and keeps volume and aggregates home', () => {
    for (const workers of [1, 2, 3, 5]) {
      const plan = planOffload(ALL, workers);
      expect(plan).toHaveLength(workers);
      for (const name of Object.keys(OFFLOADED)) {
        const holders = plan.filter((w) => w.detectors.some((d) => d.name === name));
        expect(holders.length, `${name} on ${workers}`).toBe(OFFLOADED[name].mode === 'sharded' ? workers : 1);
      }
      const names = plan.flatMap((w) => w.detectors.map((d) => d.name));
      expect(names).not.toContain('volume');
      expect(names).not.toContain('aggregates');
    }
  });

  it('keeps the detectors that share reference neighbourhoods on one worker, and spreads the rest', () => {
    const plan = planOffload(ALL, 2);
    const holder = (name: string) => plan.findIndex((w) => w.detectors.some((d) => d.name === name && d.mode === 'whole'));
    expect(holder('boundary-probing')).toBe(holder('entropy'));
    expect(holder('off-manifold')).toBe(holder('entropy'));
    expect(holder('recurring-offsets')).not.toBe(holder('entropy'));
  });

  it('puts a sharded detector on every worker, beside the whole ones', () => {
    const plan = planOffload(ALL, 3, { ...OFFLOADED, 'grid-sweep': { mode: 'sharded' } });
    for (const w of plan) expect(w.detectors).toContainEqual({ name: 'grid-sweep', mode: 'sharded' });
    expect(plan.flatMap((w) => w.detectors).filter((d) => d.mode === 'whole').map((d) => d.name).sort()).toEqual(
      Object.keys(OFFLOADED).filter((n) => n !== 'grid-sweep').sort(),
    );
  });

  it('offloads only enabled detectors', () => {
    const plan = planOffload(['volume', 'entropy'], 2);
    expect(plan.flatMap((w) => w.detectors.map((d) => d.name))).toEqual(['entropy']);
  });
});

describe('shardOf', () => {
  it('puts a key on one fixed worker and spreads keys over all of them', () => {
    const keys = Array.from({ length: 400 }, (_, i) => `key-${i}`);
    for (const k of keys) expect(shardOf(k, 3)).toBe(shardOf(k, 3));
    const counts = [0, 1, 2].map((w) => keys.filter((k) => shardOf(k, 3) === w).length);
    for (const c of counts) expect(c).toBeGreaterThan(80);
  });
});
