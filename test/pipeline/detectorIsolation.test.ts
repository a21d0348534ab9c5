import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { boundaryProbing } from '../../detectors/boundaryProbing.ts';
import type { Detector } from '../../detectors/types.ts';
import { volume } from '../../detectors/volume.ts';
import { epochParts } from '../../src/baselines/epochParts.ts';
import { configSchema } from '../../src/config/configSchema.ts';
import { levelRank, type RiskScore } from '../../src/contract.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import { marginSampler } from '../detectors/helpers/attacks.ts';
import { testCompute } from '../detectors/helpers/compute.ts';
import { attackTimes, naturalScenario } from '../detectors/helpers/scenario.ts';
import { merge } from '../detectors/helpers/world.ts';

/** A detector whose every batch throws, as a bug or a bad input would make it. */
class ExplodingDetector implements Detector<{ calls: number }> {
  readonly name = 'exploding';
  initState() {
    return { calls: 0 };
  }
  processBatch(): never {
    throw new TypeError('kernel shape mismatch');
  }
}

describe('DetectionPipeline detector isolation', () => {
  it('logs and counts a detector that throws, scores it 0, and lets the others carry on', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const metrics = createMetrics(new Registry());
    const config = configSchema.parse({});
    const detectors = [new ExplodingDetector(), boundaryProbing.create(boundaryProbing.configSchema.parse({})), volume.create(volume.configSchema.parse({}))] as Detector[];
    const pipeline = new DetectionPipeline(config, { compute: await testCompute(), metrics, logger: pino({ level: 'error' }, sink), detectors });

    const { world, natural } = naturalScenario();
    const events = merge(natural, marginSampler(world, 'atk-margin', attackTimes(world)));
    const changes: RiskScore[] = [];
    let batches = 0;
    for (let i = 0; i < events.length; i += 1_000) {
      const batch = events.slice(i, i + 1_000);
      // A batch that spans an epoch of the model reference runs as one batch per epoch.
      batches += epochParts(batch, config.reference.epochMs).length;
      changes.push(...pipeline.processBatch(batch).changes);
    }

    // Counted once per batch, labelled with the detector.
    const counted = await metrics.detectorErrors.get();
    // Every detector is exported from the start (at 0); only the one that threw counts.
    expect(counted.values.filter((v) => v.value > 0)).toEqual([{ value: batches, labels: { detector: 'exploding' } }]);
    expect(counted.values.map((v) => v.labels.detector).sort()).toEqual(detectors.map((d) => d.name).sort());
    // Logged with the detector's name and the error.
    const logged = lines.filter((l) => l.detector === 'exploding');
    expect(logged).toHaveLength(batches);
    expect(logged[0].err).toMatchObject({ type: 'TypeError', message: 'kernel shape mismatch' });
    // The others carried on: the attacker is escalated on boundary-probing evidence alone (the small-margin
    // share of a machine-paced key is an extraction signature, so one family takes it past truncate).
    const attacker = pipeline.store.peek('atk-margin')!;
    expect(attacker.scores.exploding).toBe(0);
    expect(attacker.scores['boundary-probing']).toBeGreaterThan(0.8);
    expect(levelRank(attacker.ladder.level)).toBeGreaterThanOrEqual(levelRank('truncate'));
    expect(changes.some((c) => c.api_key === 'atk-margin' && c.evidence.some((e) => e.startsWith('boundary-probing: ')))).toBe(true);
    expect(pipeline.finalScores().length).toBe(new Set(events.map((e) => e.api_key)).size);
  });
});
