import { beforeAll, describe, expect, it } from 'vitest';
import { aggregatesConfigSchema } from '../../detectors/aggregates.ts';
import { boundaryProbing, boundaryProbingConfigSchema } from '../../detectors/boundaryProbing.ts';
import { entropy, entropyConfigSchema } from '../../detectors/entropy.ts';
import { LocalTail, localTailSchema } from '../../detectors/shared/LocalTail.ts';
import type { DetectorDefinition } from '../../detectors/types.ts';
import { createKeyFeedState } from '../../src/baselines/KeyFeedState.ts';
import type { ModelReference } from '../../src/baselines/ModelReference.ts';
import { ModelReferences } from '../../src/baselines/ModelReferences.ts';
import { referenceSchema } from '../../src/baselines/referenceSchema.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import type { InferenceEvent } from '../../src/contract.ts';
import { mulberry32 } from '../../src/gateway/RandomProjection.ts';
import { marginSampler } from './helpers/attacks.ts';
import { testCompute } from './helpers/compute.ts';
import { runDetector } from './helpers/runDetector.ts';
import { ambiguousScenario, attackTimes, FIRES, QUIET } from './helpers/scenario.ts';
import { merge } from './helpers/world.ts';

let compute: Compute;
beforeAll(async () => {
  compute = await testCompute();
});

const config = referenceSchema.parse({ gate: { enabled: false } });

/** A point of a cluster centred at `centre` on every coordinate, spread 1 (16-wide, as gateway sketches are). */
function point(rand: () => number, centre: number): number[] {
  return Array.from({ length: 16 }, () => centre + (rand() - 0.5) * 2);
}

/**
 * A model reference holding `perCluster` members of each of two clusters, one at 0 whose answers all have a
 * small margin (0.05), one at 20 whose answers all have a large one (0.9), offered by `feeder` during epoch 0
 * and folded in at epoch 1 (the gate is off: this is about the estimate, not the feed).
 */
function twoClusters(perCluster = 256, feeder = (_i: number) => 'feeder'): ModelReference {
  const rand = mulberry32(3);
  const holder: Record<string, unknown> = {};
  const refs = new ModelReferences({ ...config, size: 2 * perCluster }, () => holder);
  const event = (key: string, sketch: number[], probs: number[], ts: number): InferenceEvent => ({
    event_id: `${key}-${ts}`, ts, api_key: key, tenant: null, client_ip: null, model_id: 'm', input_hash: Buffer.alloc(32),
    input_sketch: sketch, output_label: 0, output_probs: probs, status: 200, latency_ms: 1, enforcement: null,
  });
  const events: InferenceEvent[] = [];
  for (let i = 0; i < perCluster; i++) {
    events.push(event(feeder(i), point(rand, 0), [0.525, 0.475], 2 * i));
    events.push(event(feeder(i), point(rand, 20), [0.95, 0.05], 2 * i + 1));
  }
  refs.begin(events);
  const feeds = new Map<string, ReturnType<typeof createKeyFeedState>>();
  refs.offerBatch(events.map((e) => {
    if (!feeds.has(e.api_key)) feeds.set(e.api_key, createKeyFeedState());
    return { key: e.api_key, events: [e], feed: feeds.get(e.api_key)!, flagged: () => false };
  }));
  refs.end();
  const next = [event('later', point(rand, 0), [0.5, 0.5], config.epochMs)];
  refs.begin(next);
  return refs.get('m')!;
}

const tail = { threshold: 0.3, expected: 0.1 };
const local = new LocalTail(localTailSchema.parse({}));

describe('LocalTail (expected tail shares from the model reference)', () => {
  it('expects the share its neighbours got, the model-wide share where it has none, and a mix where it has some', () => {
    const ref = twoClusters();
    expect(ref.ready).toBe(true);
    const asker = LocalTail.owner('asker');
    const at = (centre: number) => local.expected(ref, local.neighbours(ref, Array(16).fill(centre), asker), 'margin', tail, 'low');
    expect(at(0)).toBe(1); // amid the small-margin cluster
    expect(at(20)).toBe(0); // amid the large-margin cluster
    expect(at(-40)).toBeCloseTo(tail.expected, 12); // far from all traffic: the model-wide share
    // Moving away from the cluster, the neighbours within the radius thin out; the missing ones count at p₀.
    let t = 0;
    while (local.neighbours(ref, Array(16).fill(-t), asker)!.count === 16) t += 0.01;
    const edge = local.neighbours(ref, Array(16).fill(-t), asker)!;
    const count = edge.count;
    expect(count).toBeGreaterThan(0);
    expect(local.expected(ref, edge, 'margin', tail, 'low')).toBeCloseTo((count + (16 - count) * tail.expected) / 16, 12);
  });

  it('never lets a key vouch for itself: its own members are not its neighbours', () => {
    const others = twoClusters(256, (i) => `other-${i % 5}`);
    const own = twoClusters(256, () => 'self');
    const q = Array(16).fill(0);
    const self = LocalTail.owner('self');
    expect(local.expected(others, local.neighbours(others, q, self), 'margin', tail, 'low')).toBe(1);
    expect(local.neighbours(own, q, self)!.count).toBe(0);
    expect(local.expected(own, local.neighbours(own, q, self), 'margin', tail, 'low')).toBe(tail.expected);
  });

  it('expects the model-wide share when disabled', () => {
    const off = new LocalTail(localTailSchema.parse({ enabled: false }));
    const ref = twoClusters();
    expect(off.neighbours(ref, Array(16).fill(0), 1)).toBeNull();
    expect(off.expected(ref, off.neighbours(ref, Array(16).fill(0), 1), 'margin', tail, 'low')).toBe(tail.expected);
  });

  it('rejects bad config naming the key, in every detector that judges by it', () => {
    const paths = (schema: { safeParse(v: unknown): { success: boolean; error?: { issues: { path: PropertyKey[] }[] } } }, v: object) =>
      schema.safeParse(v).error?.issues.map((i) => i.path.join('.')) ?? [];
    for (const schema of [boundaryProbingConfigSchema, entropyConfigSchema, aggregatesConfigSchema]) {
      expect(paths(schema, { local: { k: 0 } })).toEqual(['local.k']);
      expect(paths(schema, { local: { radius: 0 } })).toEqual(['local.radius']);
      expect(paths(schema, { local: { enabled: 'yes' } })).toEqual(['local.enabled']);
      expect(schema.safeParse({ local: { prior: 4 } }).error?.message).toMatch(/prior/); // unknown keys are refused
    }
  });
});

// Uncertainty (margin) sampling picks the most ambiguous of real-looking candidates; the person asks about an
// ambiguous topic. Only the first is more often unsure than the model's traffic near the same questions.
describe.each([
  { def: boundaryProbing as DetectorDefinition, what: /had a top-1\/top-2 margin </ },
  { def: entropy as DetectorDefinition, what: /had normalised entropy > / },
])('$def.name judged against the model reference near its queries', ({ def, what }) => {
  it('stays quiet on a person whose topic is ambiguous, whom the model-wide share alone flags, and still fires on uncertainty sampling', () => {
    const { world, natural, naturalKeys, person } = ambiguousScenario();
    const events = merge(natural, person, marginSampler(world, 'atk-uncertain', attackTimes(world)));
    const local = runDetector(def.create(def.configSchema.parse({})), events, compute);
    const global = runDetector(def.create(def.configSchema.parse({ local: { enabled: false } })), events, compute);

    // Against the model-wide share the person looks like an active-learning attacker…
    expect(global.maxByKey.get('nat-ambiguous')).toBeGreaterThanOrEqual(0.5);
    expect(global.lastEvidence.get('nat-ambiguous')!.join(' ')).toMatch(what);
    expect(global.lastEvidence.get('nat-ambiguous')!.join(' ')).toMatch(/for model credit-v3's baseline/);
    // …against the answers the model's traffic gets near its questions it is not; the sampler still is.
    expect(local.maxByKey.get('nat-ambiguous')).toBeLessThan(QUIET);
    expect(local.maxByKey.get('atk-uncertain')).toBeGreaterThanOrEqual(FIRES);
    expect(local.lastEvidence.get('atk-uncertain')!.join(' ')).toMatch(/for model credit-v3's traffic near these queries/);
    for (const key of naturalKeys) expect(local.maxByKey.get(key) ?? 0, key).toBeLessThan(QUIET);
  });
});
