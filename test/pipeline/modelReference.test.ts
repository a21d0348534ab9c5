import { Writable } from 'node:stream';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { boundaryProbing } from '../../detectors/boundaryProbing.ts';
import { offManifold } from '../../detectors/offManifold.ts';
import type { Detector } from '../../detectors/types.ts';
import type { ModelReferenceState } from '../../src/baselines/ModelReferenceState.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import type { InferenceEvent } from '../../src/contract.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import type { KeyState } from '../../src/state/KeyStateStore.ts';
import { marginSampler, uniformBox } from '../detectors/helpers/attacks.ts';
import { testCompute } from '../detectors/helpers/compute.ts';
import { attackTimes, HOUR, naturalScenario, T0 } from '../detectors/helpers/scenario.ts';
import { merge } from '../detectors/helpers/world.ts';

const config = parseConfig({});
let compute: Compute;
let events: InferenceEvent[];
beforeAll(async () => {
  compute = await testCompute();
  const { world, natural } = naturalScenario(4);
  events = merge(natural.filter((e) => e.ts < T0 + 3 * HOUR), uniformBox(world, 'atk-box', attackTimes(world, 200)), marginSampler(world, 'atk-margin', attackTimes(world, 200)));
});

// Two detectors that read the shared reference keep these runs short.
function pipeline(logger?: pino.Logger): DetectionPipeline {
  const detectors = [offManifold.create(offManifold.configSchema.parse({})), boundaryProbing.create(boundaryProbing.configSchema.parse({}))] as Detector[];
  return new DetectionPipeline(config, { compute, detectors, ...(logger ? { logger } : {}) });
}

function run(p: DetectionPipeline, stream: readonly InferenceEvent[], size: number) {
  const changes = [];
  for (let i = 0; i < stream.length; i += size) changes.push(...p.processBatch(stream.slice(i, i + size)).changes);
  return changes;
}

describe('DetectionPipeline and the model reference', () => {
  it('builds one reference per model in the model\'s aggregate entity, and its detectors fire on it whatever the batch size', () => {
    const small = pipeline();
    const large = pipeline();
    // A batch lists its changes key by key, and boundary-probing quotes a batch's last evidence: compare the rest, in event time.
    const bare = (changes: ReturnType<typeof run>) =>
      changes.map(({ evidence: _, ...c }) => c).sort((x, y) => x.ts - y.ts || (x.api_key < y.api_key ? -1 : x.api_key > y.api_key ? 1 : 0));
    const a = run(small, events, 97);
    const b = run(large, events, 2_048);
    expect(a.length).toBeGreaterThan(0);
    expect(bare(b)).toEqual(bare(a));
    expect(large.finalScores()).toEqual(small.finalScores());
    const ref = large.store.aggregates.get('model:credit-v3')?.reference as ModelReferenceState;
    expect(ref.v).toBe(1);
    expect(ref.n).toBeGreaterThan(100);
    const final = new Map(large.finalScores().map((s) => [s.api_key, s]));
    expect(final.get('atk-box')!.detectors['off-manifold']).toBeGreaterThanOrEqual(0.8);
    expect(final.get('atk-margin')!.detectors['boundary-probing']).toBeGreaterThanOrEqual(0.8);
    // The gate's memory of each key travels with the key's state.
    expect(large.store.peek('atk-box')!.reference!.n).toBe(200);
  });

  it('carries on identically from JSON snapshots of key states and aggregates (a rebalance or a restart)', () => {
    const whole = pipeline();
    run(whole, events, 500);
    const cut = Math.floor(events.length / 2);
    const first = pipeline();
    run(first, events.slice(0, cut), 500);
    const resumed = pipeline();
    for (const s of first.store.entries()) resumed.store.put(JSON.parse(JSON.stringify(s)) as KeyState);
    for (const [entity, detectors] of first.store.aggregates) resumed.store.putAggregate({ entity, seen: 0, detectors: JSON.parse(JSON.stringify(detectors)) });
    run(resumed, events.slice(cut), 500);
    expect(resumed.finalScores()).toEqual(whole.finalScores());
  });

  it('logs a reference snapshot it cannot read and starts a fresh one', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const p = pipeline(pino({ level: 'warn' }, sink));
    p.store.putAggregate({ entity: 'model:credit-v3', seen: 0, detectors: { reference: { v: 99 } } });
    p.processBatch(events.slice(0, 10));
    expect(lines.some((l) => l.model === 'credit-v3' && l.problem === 'version 99, expected 1' && /cannot be read/.test(String(l.msg)))).toBe(true);
    expect((p.store.aggregates.get('model:credit-v3')!.reference as ModelReferenceState).v).toBe(1);
  });
});
