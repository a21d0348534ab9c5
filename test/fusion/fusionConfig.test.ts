import { describe, expect, it } from 'vitest';
import type { Detector } from '../../detectors/types.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import { detectionConfigHash, loadConfig, parseConfig } from '../../src/config/loadConfig.ts';
import { detectorKinds } from '../../src/fusion/detectorKinds.ts';
import { sigmoid } from '../../src/fusion/logistic.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import { burst } from '../helpers/events.ts';

const behavioural = [...detectorKinds()].filter(([, k]) => k === 'behaviour').map(([n]) => n);
const zeroWeights = Object.fromEntries(behavioural.map((n) => [n, 0]));

function errorOf(doc: unknown): string {
  try {
    parseConfig(doc);
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}

describe('fusion config', () => {
  it('defaults to noisy-or with no logistic settings, and the detection hash covers fusion', () => {
    const c = parseConfig({});
    expect(c.fusion).toEqual({ method: 'noisy-or', weights: {}, countOnce: { enabled: true, groupCorroborates: false, holdBelow: 'throttle', holdFamilies: ['output', 'cross-key'] } });
    const logistic = parseConfig({ fusion: { method: 'logistic', bias: -4, weights: zeroWeights } });
    expect(detectionConfigHash(logistic)).not.toBe(detectionConfigHash(c));
    expect(loadConfig(new URL('../../examples/probewatch.yaml', import.meta.url).pathname).fusion).toEqual(c.fusion);
  });

  it('names each bad weight key: unknown detector, rate detector, negative weight', () => {
    const message = errorOf({ fusion: { weights: { 'grid-sweeps': 1, volume: 2, entropy: -1 } } });
    expect(message).toMatch(/fusion\.weights\.grid-sweeps: unknown detector 'grid-sweeps'; expected one of grid-sweep, /);
    expect(message).toMatch(/fusion\.weights\.volume: volume is a rate detector/);
    expect(message).toMatch(/fusion\.weights\.entropy: must be >= 0/);
    expect(errorOf({ fusion: { method: 'softmax' } })).toMatch(/fusion\.method: Invalid option: expected one of "noisy-or"\|"logistic"/);
  });

  it('logistic needs a bias, a weight for every enabled behavioural detector, and a quiet key below observe', () => {
    const missing = errorOf({ fusion: { method: 'logistic', weights: { 'grid-sweep': 3 } } });
    expect(missing).toMatch(/fusion\.bias: required when fusion\.method is logistic/);
    expect(missing).toMatch(/fusion\.weights\.entropy: required when fusion\.method is logistic and detectors\.entropy is enabled/);
    expect(missing).not.toMatch(/fusion\.weights\.grid-sweep:/);
    const { entropy: _, ...withoutEntropy } = zeroWeights;
    expect(errorOf({ fusion: { method: 'logistic', bias: -3, weights: withoutEntropy }, detectors: { entropy: { enabled: false } } })).toBe('');
    expect(errorOf({ fusion: { method: 'logistic', bias: 0, weights: zeroWeights } })).toMatch(
      /fusion\.bias: σ\(0\) = 0\.500 is at or above policy\.thresholds\.observe \(0\.3\)/,
    );
  });
});

/** A detector that scores every event `score`, with one evidence sentence. */
function fixed(name: string, score: number, kind?: 'rate', family?: 'geometry' | 'output'): Detector {
  return { name, kind, family, initState: () => ({}), processBatch: (groups) => groups.map((g) => ({ scores: g.events.map(() => score), evidence: [`${name} says ${score}`] })) };
}

describe('DetectionPipeline with logistic fusion', () => {
  const compute = { backend: 'none' } as Compute;

  it('fuses σ(bias + Σ wᵢsᵢ) and quotes the detectors whose contribution wᵢsᵢ drives the risk', () => {
    const config = parseConfig({
      fusion: { method: 'logistic', bias: -3, weights: { ...zeroWeights, 'grid-sweep': 5, entropy: 0.4 } },
      detectors: { volume: { weight: 0.4 } },
    });
    const detectors = [fixed('volume', 1, 'rate'), fixed('grid-sweep', 0.9, undefined, 'geometry'), fixed('entropy', 0.5, undefined, 'output'), fixed('output-drift', 1, undefined, 'output')];
    const pipeline = new DetectionPipeline(config, { compute, detectors });
    pipeline.processBatch(burst('k', 3, 1_767_600_000_000, 1000));
    const [final] = pipeline.finalScores();
    expect(final.risk).toBeCloseTo(sigmoid(-3 + 5 * 0.9 + 0.4 * 0.5), 4);
    // grid-sweep adds 4.5 to the log-odds; entropy 0.2 (more than a tenth of the risk, 0.85, but less than a tenth of the positive log-odds, 4.7); output-drift has weight 0; volume 0.4 (a tenth of the risk or more).
    expect(final.evidence).toEqual(['grid-sweep: grid-sweep says 0.9', 'volume: volume says 1']);
  });
});
