import { beforeAll, describe, expect, it } from 'vitest';
import { aggregates } from '../../detectors/aggregates.ts';
import { boundaryProbing } from '../../detectors/boundaryProbing.ts';
import { entropy } from '../../detectors/entropy.ts';
import { outputDrift } from '../../detectors/outputDrift.ts';
import type { DetectorDefinition } from '../../detectors/types.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import type { InferenceEvent } from '../../src/contract.ts';
import { balancedClasses, lineSearches, marginSampler, uniformBox } from './helpers/attacks.ts';
import { testCompute } from './helpers/compute.ts';
import { runDetector } from './helpers/runDetector.ts';
import { restoredRun } from './helpers/snapshotRoundTrip.ts';
import { ATTACK_START, attackTimes, naturalScenario } from './helpers/scenario.ts';
import { merge, scriptTimes } from './helpers/world.ts';

let compute: Compute;
let events: InferenceEvent[];
beforeAll(async () => {
  compute = await testCompute();
  const { world, natural } = naturalScenario(3);
  events = merge(
    natural,
    marginSampler(world, 'atk-margin', attackTimes(world)),
    lineSearches(world, 'atk-lines', 30, 10, attackTimes(world)),
    balancedClasses(world, 'atk-balanced', attackTimes(world)),
    ...Array.from({ length: 8 }, (_, k) => uniformBox(world, `syb-${k}`, scriptTimes(world, 40, ATTACK_START + k * 5_000, 3_000), 5, { clientIp: `203.0.113.${k}` })),
  );
});

// Replay promises that the poll size changes only the speed: shared (model, tenant, prefix) state is walked in event time.
describe.each([boundaryProbing, entropy, outputDrift, aggregates] as DetectorDefinition[])('$name', (def) => {
  it('gives the same score to every event whatever the poll size', () => {
    const small = runDetector(def.create(def.configSchema.parse({})), events, compute, 97);
    const large = runDetector(def.create(def.configSchema.parse({})), events, compute, 2_048);
    let fired = 0;
    for (const e of events) {
      expect(small.scores.get(e.event_id), e.event_id).toBeCloseTo(large.scores.get(e.event_id)!, 6);
      if (large.scores.get(e.event_id)! > 0.5) fired++;
    }
    expect(fired).toBeGreaterThan(0); // the comparison covers firing scores, not just zeros
    expect(small.lastEvidence).toEqual(large.lastEvidence);
  });


  it('carries on identically from a snapshot of its key and aggregate state (a rebalance or a restart)', () => {
    const whole = runDetector(def.create(def.configSchema.parse({})), events, compute, 500);
    const cut = Math.floor(events.length / 2);
    const first = runDetector(def.create(def.configSchema.parse({})), events.slice(0, cut), compute, 500);
    const resumed = runDetector(def.create(def.configSchema.parse({})), events.slice(cut), compute, 500, restoredRun(first));
    for (const e of events.slice(cut)) expect(resumed.scores.get(e.event_id), e.event_id).toBeCloseTo(whole.scores.get(e.event_id)!, 6);
  });
});

// The evidence a RiskScore carries is the detector's reading as of its event, not of the poll's end (aggregates' group views still quote their state at the poll's end).
describe.each([boundaryProbing, entropy, outputDrift] as DetectorDefinition[])('$name', (def) => {
  it('explains every event as of that event, whatever the poll size', () => {
    const small = runDetector(def.create(def.configSchema.parse({})), events, compute, 97);
    const large = runDetector(def.create(def.configSchema.parse({})), events, compute, 2_048);
    let explained = 0;
    for (const e of events) {
      expect(small.evidenceByEvent.get(e.event_id), e.event_id).toEqual(large.evidenceByEvent.get(e.event_id));
      if ((large.evidenceByEvent.get(e.event_id) ?? []).length > 0) explained++;
    }
    expect(explained).toBeGreaterThan(100); // every event has an explanation to compare, many of them non-empty
  });
});
