import { describe, expect, it } from 'vitest';
import * as probewatch from '../src/index.ts';

describe('package entry (src/index.ts)', () => {
  it('exports the pipeline, the ladder, the sinks and the gateway SDK', () => {
    for (const name of ['DetectionPipeline', 'ResponseLadder', 'KafkaRunner', 'RedisDecisionStore', 'AvroEventCodec', 'GatewayEmitter', 'DecisionReader', 'KafkaDecisionFeed', 'Enforcer', 'loadConfig']) {
      expect(typeof (probewatch as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(probewatch.DETECTORS.map((d) => d.name)).toContain('grid-sweep');
  });
});
