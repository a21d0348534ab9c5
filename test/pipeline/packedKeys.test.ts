import { beforeAll, describe, expect, it } from 'vitest';
import type { Compute } from '../../src/compute/Compute.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import type { InferenceEvent, RiskScore } from '../../src/contract.ts';
import { DetectionPipeline, type PipelineOutput } from '../../src/pipeline/DetectionPipeline.ts';
import { lineSearches, uniformBox } from '../detectors/helpers/attacks.ts';
import { testCompute } from '../detectors/helpers/compute.ts';
import { attackTimes, ATTACK_START, HOUR, naturalScenario, T0 } from '../detectors/helpers/scenario.ts';
import { merge } from '../detectors/helpers/world.ts';
import { burst } from '../helpers/events.ts';

const BATCH = 256;
let compute: Compute;
let events: InferenceEvent[];
beforeAll(async () => {
  compute = await testCompute();
  const { world, natural } = naturalScenario(5);
  // Two attackers that pause for 40 minutes mid-attack (packed meanwhile), and the natural keys around them.
  const paused = (key: string, make: (times: number[]) => InferenceEvent[]) => {
    const first = attackTimes(world, 120, ATTACK_START);
    const second = attackTimes(world, 120, first[first.length - 1] + 40 * 60_000);
    return make([...first, ...second]);
  };
  events = merge(
    natural.filter((e) => e.ts < T0 + 3.5 * HOUR),
    paused('atk-box', (times) => uniformBox(world, 'atk-box', times)),
    paused('atk-lines', (times) => lineSearches(world, 'atk-lines', 20, 12, times)),
  );
});

interface Run {
  out: PipelineOutput[];
  final: unknown;
  states: Map<string, unknown>;
  /** Per key: batches after which the key was held packed. */
  packedAfter: Map<string, number>;
}

function run(packAfterIdleMs: number): Run {
  const config = parseConfig({ state: { packAfterIdleMs } });
  const pipeline = new DetectionPipeline(config, { compute });
  const out: PipelineOutput[] = [];
  const packedAfter = new Map<string, number>();
  for (let i = 0; i < events.length; i += BATCH) {
    out.push(pipeline.processBatch(events.slice(i, i + BATCH)));
    for (const view of pipeline.store.views()) if (!('detectors' in view)) packedAfter.set(view.key, (packedAfter.get(view.key) ?? 0) + 1);
  }
  const final = pipeline.finalScores();
  const states = new Map([...pipeline.store.entries()].map((s) => [s.key, s]));
  return { out, final, states, packedAfter };
}

describe('DetectionPipeline with quiet keys packed (state.packAfterIdleMs)', () => {
  it('scores a key packed while idle, then woken by its events, exactly as a key never packed', () => {
    const never = run(0);
    const packed = run(10 * 60_000);
    // The attackers were packed during their pause, and most natural keys at some point.
    expect(packed.packedAfter.get('atk-box')).toBeGreaterThan(0);
    expect(packed.packedAfter.get('atk-lines')).toBeGreaterThan(0);
    expect(packed.packedAfter.size).toBeGreaterThan(10);
    expect(never.packedAfter.size).toBe(0);
    // Their windows span the pause: what they did before it still counts after it.
    const seen = (r: Run) => (r.final as RiskScore[]).filter((f) => f.api_key.startsWith('atk-')).map((f) => [f.api_key, f.events_seen, f.level]);
    expect(seen(packed)).toEqual([
      ['atk-box', 240, 'deceive'],
      ['atk-lines', 238, 'deceive'],
    ]);
    expect(packed.out).toStrictEqual(never.out);
    expect(packed.final).toStrictEqual(never.final);
    expect(packed.states).toStrictEqual(never.states);
  });
});

describe('DetectionPipeline: the packing delay of a key that pauses often', () => {
  it('packs a key at its first pause past packAfterIdleMs, not at the next pauses of about the same length', () => {
    const MIN = 60_000;
    const config = parseConfig({ detectors: { volume: {} }, state: { packAfterIdleMs: 10 * MIN } });
    const pipeline = new DetectionPipeline(config, { compute: { backend: 'none' } as Compute });
    // 'office' makes 5 calls, then pauses 20 minutes, five times over; 'clock' calls every minute throughout.
    const office = Array.from({ length: 5 }, (_, s) => burst('office', 5, s * 25 * MIN, 1000)).flat();
    const clock = burst('clock', 125, 0, MIN);
    const all = [...office, ...clock].map((e, i) => ({ ...e, event_id: `e${i}` })).sort((a, b) => a.ts - b.ts);
    let packs = 0;
    let wasPacked = false;
    for (const e of all) {
      pipeline.processBatch([e]);
      const packed = pipeline.store.isPacked('office');
      if (packed && !wasPacked) packs++;
      wasPacked = packed;
    }
    expect(packs).toBe(1);
    // Quiet far past its usual pause, it is packed again.
    pipeline.processBatch([{ ...clock[0], event_id: 'late', ts: all[all.length - 1].ts + 90 * MIN }]);
    expect(pipeline.store.isPacked('office')).toBe(true);
  });
});
