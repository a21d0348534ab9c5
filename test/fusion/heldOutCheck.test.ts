import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { createFusion } from '../../src/fusion/createFusion.ts';
import { heldOutCheck } from '../../src/fusion/heldOutCheck.ts';
import { rocAuc } from '../../src/fusion/rocAuc.ts';
import type { ScoredKey } from '../../src/fusion/ScoredKey.ts';

describe('rocAuc', () => {
  it('is the share of attack/benign pairs the attack key wins, ties counting one half', () => {
    expect(rocAuc([0.9, 0.5], [0.5, 0.1])).toBe(3.5 / 4);
    expect(rocAuc([0.2], [0.3, 0.1, 0.2])).toBe(1.5 / 3);
    expect(rocAuc([1, 2], [0])).toBe(1);
    expect(rocAuc([0], [1, 2])).toBe(0);
    expect(rocAuc([], [1])).toBeNaN();
  });
});

describe('heldOutCheck', () => {
  // One behavioural detector with noisy-OR weight 1 whose score is a signature: the risk is the score.
  const config = parseConfig({ policy: { thresholds: { observe: 0.3, throttle: 0.5, truncate: 0.7 } } });
  const fusion = createFusion({ fusion: config.fusion, detectors: { d: { weight: 1 } } }, [{ name: 'd', signature: true }]);
  const key = (name: string, attack: boolean, scores: number[]): ScoredKey => ({
    key: name,
    attack,
    tenant: null,
    events: scores.length,
    scores: Float64Array.from(scores),
    ts: Float64Array.from(scores, (_, i) => 1_767_600_000_000 + i * 1000),
  });

  it('counts the keys each level reached on the real ladder and the events an attack key made before truncate', () => {
    const keys = [
      key('a1', true, [0, 0.2, 0.8, 0.1]),
      key('a2', true, [0, 0, 0, 0, 0, 0.75]),
      key('a3', true, [0.4, 0.45]),
      key('b1', false, [0.1, 0.35, 0]),
      key('b2', false, [0, 0.05]),
    ];
    const r = heldOutCheck(keys, 1, fusion, config.policy);
    expect(r).toMatchObject({ attackKeys: 3, benignKeys: 2, auc: 1 });
    expect(r.reach).toEqual([
      { level: 'observe', attack: 3, benign: 1 },
      { level: 'throttle', attack: 2, benign: 0 },
      { level: 'truncate', attack: 2, benign: 0 },
    ]);
    // a1 after 3 events, a2 after 6, a3 never.
    expect(r.medianEventsToTruncate).toBe(6);
    expect(heldOutCheck(keys.slice(2), 1, fusion, config.policy).medianEventsToTruncate).toBe(Infinity);
  });

  it('applies the policy: an allowlisted attack key reaches nothing', () => {
    const allow = parseConfig({ policy: { allowlist: ['a1'] } });
    const r = heldOutCheck([key('a1', true, [0.9]), key('b1', false, [0])], 1, fusion, allow.policy);
    expect(r.reach.map((x) => x.attack)).toEqual([0, 0, 0]);
    expect(r.auc).toBe(1);
  });
});
