import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { gridSweep } from '../../detectors/gridSweep.ts';
import { recurringOffsets } from '../../detectors/recurringOffsets.ts';
import type { DetectorDefinition } from '../../detectors/types.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import type { InferenceEvent } from '../../src/contract.ts';
import { decodeSection } from '../../src/state/SnapshotCodec.ts';
import type { KeyFeedState } from '../../src/baselines/KeyFeedState.ts';
import { testCompute } from './helpers/compute.ts';
import { type DetectorRun, runDetector } from './helpers/runDetector.ts';
import { ringsInOrder } from './helpers/snapshotRoundTrip.ts';
import { snapshotScenario } from './helpers/snapshotScenario.ts';

/** Detector state sections written by an older release (its vectors as base64 strings), gzipped, with the stream they were cut from. */
interface Fixture {
  events: number;
  cut: number;
  batch: number;
  detectors: Record<string, string>;
}
const fixture = JSON.parse(readFileSync(new URL('../fixtures/olderSnapshots.json', import.meta.url), 'utf8')) as Fixture;

interface Saved {
  states: [string, unknown][];
  aggregates: [string, unknown][];
  feeds: [string, KeyFeedState][];
}

let compute: Compute;
let events: InferenceEvent[];
beforeAll(async () => {
  compute = await testCompute();
  events = snapshotScenario();
});

// Snapshots taken before the detectors kept their vectors in typed arrays restore, and carry on exactly as an uninterrupted run.
describe.each([gridSweep, recurringOffsets] as DetectorDefinition[])('$name', (def) => {
  it('restores a snapshot of the older base64 form and carries on as if never interrupted', () => {
    expect(events.length).toBe(fixture.events);
    const saved = decodeSection(gunzipSync(Buffer.from(fixture.detectors[def.name], 'base64'))) as Saved;
    const states = new Map(saved.states);
    expect(Object.values(states.values().next().value as object).some((v) => typeof v === 'string' && v.length > 100)).toBe(true);
    const first = runDetector(def.create(def.configSchema.parse({})), [], compute, fixture.batch);
    const prior: DetectorRun = { ...first, states, aggregates: new Map(saved.aggregates), feeds: new Map(saved.feeds) };
    const rest = events.slice(fixture.cut);
    const resumed = runDetector(def.create(def.configSchema.parse({})), rest, compute, fixture.batch, prior);
    const whole = runDetector(def.create(def.configSchema.parse({})), events, compute, fixture.batch);
    for (const e of rest) expect(resumed.scores.get(e.event_id), e.event_id).toBe(whole.scores.get(e.event_id));
    // Keys with events after the cut are in typed arrays again; the others keep the older form until their next event.
    const active = new Set(rest.map((e) => e.api_key));
    expect(active.size).toBeGreaterThan(1);
    // grid-sweep's view quotes the traffic's step dimension read from the model's reference. The older release's
    // reference kept 8 sketch coordinates per member, today's keeps 16 (`reference.width`), so until its members are
    // replaced the resumed reference reads that span over 8 coordinates: the view's quote differs, the scores do not.
    const perKey = (state: unknown) => {
      const s = ringsInOrder(state) as { view?: Record<string, unknown> };
      if (s.view && 'trafficDims' in s.view) s.view = { ...s.view, trafficDims: null };
      return s;
    };
    for (const key of active) expect(perKey(resumed.states.get(key)), key).toEqual(perKey(whole.states.get(key)));
  });
});
