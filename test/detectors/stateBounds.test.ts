import { beforeAll, describe, expect, it } from 'vitest';
import { aggregates } from '../../detectors/aggregates.ts';
import { boundaryProbing } from '../../detectors/boundaryProbing.ts';
import { entropy } from '../../detectors/entropy.ts';
import { outputDrift } from '../../detectors/outputDrift.ts';
import { recurringOffsets } from '../../detectors/recurringOffsets.ts';
import type { DetectorDefinition } from '../../detectors/types.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import type { InferenceEvent } from '../../src/contract.ts';
import { balancedClasses, lineSearches, uniformBox } from './helpers/attacks.ts';
import { testCompute } from './helpers/compute.ts';
import { runDetector } from './helpers/runDetector.ts';
import { throughSnapshot } from './helpers/snapshotRoundTrip.ts';
import { encodeSection } from '../../src/state/SnapshotCodec.ts';
import { ATTACK_START, naturalScenario } from './helpers/scenario.ts';
import { humanTimes, merge, naturalKey, scriptTimes } from './helpers/world.ts';

/**
 * The per-key ceilings documented on each detector's state type (defaults, 16-wide sketches, ≤ 10 classes): JSON
 * bytes, or snapshot-section bytes for the detectors whose state holds typed arrays (`TYPED`; aggregates' and
 * entropy's full bucket rings are `Uint16Array`s).
 */
const CEILING: Record<string, number> = { 'recurring-offsets': 12_000, 'boundary-probing': 2_000, entropy: 1_400, 'output-drift': 1_000, aggregates: 1_800 };
/** Documented on EntityView: one aggregate entity and model. */
const ENTITY_CEILING = 3_000;
const TYPED = new Set(['recurring-offsets', 'boundary-probing', 'entropy', 'aggregates']);
const bytesOf = (def: DetectorDefinition, state: unknown) => (TYPED.has(def.name) ? encodeSection(state).length : JSON.stringify(state).length);
/** Documented on LocalSample: a model's local reference (512 members and a full pool, two statistics at most). */
const LOCAL_CEILING = 61_000;
/** Documented on ModelReferenceState: the model's shared reference (512 members and a full sample of 15 float32 each, base64). */
const REFERENCE_CEILING = 2 * Math.ceil((512 * 15 * 4) / 3) * 4 + 300;

let compute: Compute;
let short: InferenceEvent[];
let long: InferenceEvent[];
beforeAll(async () => {
  compute = await testCompute();
  const build = (n: number) => {
    const { world: w, natural } = naturalScenario(5);
    const t = (period: number) => scriptTimes(w, n, ATTACK_START, period);
    return merge(
      natural,
      lineSearches(w, 'k-lines', Math.ceil(n / 12), 10, t(1_000)),
      uniformBox(w, 'k-box', t(1_000), 5, { tenant: 'big', clientIp: '192.0.2.1' }),
      balancedClasses(w, 'k-knockoff', t(1_000), { tenant: 'big', clientIp: '192.0.2.2' }),
      naturalKey(w, 'k-natural', n, humanTimes(w, n, ATTACK_START, 5_000), { tenant: 'big', clientIp: '192.0.2.3' }),
    );
  };
  short = build(300);
  long = build(3_000);
});

describe.each([boundaryProbing, entropy, outputDrift, aggregates, recurringOffsets] as DetectorDefinition[])('$name state', (def) => {
  it('stays under its documented ceiling and stops growing with the history', () => {
    const size = (events: InferenceEvent[]) => {
      const run = runDetector(def.create(def.configSchema.parse({})), events, compute, 1_000);
      return { run, bytes: ['k-lines', 'k-box', 'k-knockoff', 'k-natural'].map((k) => bytesOf(def, run.states.get(k))) };
    };
    const a = size(short);
    const b = size(long);
    for (const bytes of [...a.bytes, ...b.bytes]) expect(bytes).toBeLessThanOrEqual(CEILING[def.name]);
    // Ten times the history, at most a few percent more JSON (number widths vary).
    expect(Math.max(...b.bytes)).toBeLessThan(1.1 * Math.max(...a.bytes));
    for (const [entity, value] of b.run.aggregates) {
      if (entity.startsWith('model:local:')) expect(JSON.stringify(value).length, entity).toBeLessThanOrEqual(LOCAL_CEILING);
      if (entity.startsWith('reference:')) expect(JSON.stringify(value).length, entity).toBeLessThanOrEqual(REFERENCE_CEILING);
      if (entity.startsWith('model:') || entity.startsWith('reference:')) continue;
      for (const view of Object.values(value as Record<string, unknown>)) expect(encodeSection(view).length, entity).toBeLessThanOrEqual(ENTITY_CEILING);
    }
    // Snapshots restore: the state survives a snapshot's round trip (a JSON one, for plain-JSON states) unchanged.
    const state = b.run.states.get('k-box');
    expect(TYPED.has(def.name) ? throughSnapshot(state) : JSON.parse(JSON.stringify(state))).toEqual(state);
  });
});
