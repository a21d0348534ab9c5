import { describe, expect, it } from 'vitest';
import { replayCheck } from '../../../benchmarks/quality/replayCheck.ts';
import { formatEventLine } from '../../../src/codec/ndjson.ts';
import { loadConfig } from '../../../src/config/loadConfig.ts';
import { DetectionPipeline } from '../../../src/pipeline/DetectionPipeline.ts';
import { testCompute } from '../../detectors/helpers/compute.ts';
import { uniformBox } from '../../detectors/helpers/attacks.ts';
import { attackTimes, naturalScenario } from '../../detectors/helpers/scenario.ts';
import { merge } from '../../detectors/helpers/world.ts';

describe('replayCheck', () => {
  it('finds probewatch replay ending every key where small polls ended it, and reports a key that differs', async () => {
    const { world, natural } = naturalScenario(4);
    const events = merge(natural, uniformBox(world, 'atk-random', attackTimes(world, 300)));
    const config = loadConfig(undefined);
    const pipeline = new DetectionPipeline(config, { compute: await testCompute() });
    // Polls of 5 s of event time, as the benchmark's world delivers them.
    for (let i = 0; i < events.length; ) {
      const w = Math.floor(events[i].ts / 5000);
      let j = i + 1;
      while (j < events.length && Math.floor(events[j].ts / 5000) === w) j++;
      pipeline.processBatch(events.slice(i, j));
      i = j;
    }
    const finals = pipeline.finalScores();
    expect(finals.find((s) => s.api_key === 'atk-random')!.level).not.toBe('allow');
    const lines = events.map(formatEventLine);

    const same = await replayCheck(lines, config, finals);
    expect(same).toMatchObject({ events: events.length, keys: finals.length, mismatched: 0, mismatches: [] });

    const tampered = finals.map((s) => (s.api_key === 'atk-random' ? { ...s, risk: s.risk / 2 } : s));
    const differs = await replayCheck(lines, config, tampered);
    expect(differs.mismatched).toBe(1);
    expect(differs.mismatches[0]).toMatch(/^atk-random: simulation /);
  }, 180_000);
});
