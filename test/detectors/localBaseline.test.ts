import { beforeAll, describe, expect, it } from 'vitest';
import { aggregatesConfigSchema } from '../../detectors/aggregates.ts';
import { boundaryProbing, boundaryProbingConfigSchema } from '../../detectors/boundaryProbing.ts';
import { entropy, entropyConfigSchema } from '../../detectors/entropy.ts';
import { createQuota } from '../../detectors/shared/EpochHistogram.ts';
import { LocalBaseline, localBaselineSchema, ownerOf } from '../../detectors/shared/LocalBaseline.ts';
import { tailBaselineSchema } from '../../detectors/shared/TailBaseline.ts';
import type { DetectorContext, DetectorDefinition } from '../../detectors/types.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import { unpackFloat32 } from '../../src/compute/packedVectors.ts';
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

const base = tailBaselineSchema.parse({});
const EPOCH = base.epochMs;
const DIM = 8;

function context(): DetectorContext & { entities: Map<string, unknown> } {
  const entities = new Map<string, unknown>();
  return {
    entities,
    compute: undefined as never,
    reference: () => null,
    aggregate<T>(entity: string, init: () => T): T {
      if (!entities.has(entity)) entities.set(entity, init());
      return entities.get(entity) as T;
    },
  };
}

/** A point of a cluster centred at `centre` on every coordinate, spread 1 (16-wide, as gateway sketches are). */
function point(rand: () => number, centre: number): number[] {
  return Array.from({ length: 16 }, () => centre + (rand() - 0.5) * 2);
}

/**
 * A baseline whose sample holds `perCluster` members of each of two clusters, one at 0 whose answers all
 * have a small margin (0.05), one at 20 whose answers all have a large one (0.9), fed by `feeder` during
 * epoch 0 and folded in at epoch 1.
 */
function twoClusters(perCluster = 256, feeder = (_i: number) => 'feeder', config: object = {}) {
  const rand = mulberry32(3);
  const local = new LocalBaseline(localBaselineSchema.parse(config), base, 1);
  const ctx = context();
  local.begin();
  const s = local.sample(ctx, 'm', 0)!;
  for (let i = 0; i < perCluster; i++) {
    local.feed(s, point(rand, 0), [0.05], ownerOf(feeder(i)));
    local.feed(s, point(rand, 20), [0.9], ownerOf(feeder(i)));
  }
  local.flush();
  local.begin();
  local.sample(ctx, 'm', EPOCH);
  return { local, ctx, s, rand };
}

const tail = { threshold: 0.3, expected: 0.1 };

describe('LocalBaseline', () => {
  it('finds the k nearest members within the radius, as a full scan does, leaving the asking key out', () => {
    const rand = mulberry32(9);
    const local = new LocalBaseline(localBaselineSchema.parse({}), base, 1);
    const ctx = context();
    local.begin();
    const s = local.sample(ctx, 'm', 0)!;
    const gauss = () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
    for (let i = 0; i < 600; i++) local.feed(s, Array.from({ length: 16 }, gauss), [rand()], ownerOf(`k${i % 7}`));
    local.flush();
    local.sample(ctx, 'm', EPOCH);
    expect(s.n).toBe(512);
    expect(s.scale).toBeGreaterThan(0);

    const stride = DIM + 2;
    const rows = unpackFloat32(s.rows);
    const owners = new Uint32Array(rows.buffer);
    for (let q = 0; q < 50; q++) {
      const x = Array.from({ length: 16 }, () => 1.5 * gauss());
      const me = ownerOf(`k${q % 7}`);
      const nb = local.neighbours(s, x, me);
      const all: { i: number; d: number }[] = [];
      for (let i = 0; i < s.n; i++) {
        if (owners[i * stride + stride - 1] === me) continue;
        let d = 0;
        for (let j = 0; j < DIM; j++) d += (rows[i * stride + j] - x[j]) ** 2;
        if (Math.sqrt(d) <= 3 * s.scale) all.push({ i, d });
      }
      all.sort((a, b) => a.d - b.d || a.i - b.i);
      expect([...nb.idx.subarray(0, nb.count)]).toEqual(all.slice(0, 16).map((a) => a.i));
    }
  });

  it('expects the share its neighbours got, the model-wide share where it has none, and a mix where it has some', () => {
    const { local, s } = twoClusters();
    const at = (centre: number) => local.expected(s, local.neighbours(s, Array(16).fill(centre), ownerOf('asker')), 0, tail, 'low');
    expect(at(0)).toBe(1); // amid the small-margin cluster
    expect(at(20)).toBe(0); // amid the large-margin cluster
    expect(at(-40)).toBeCloseTo(tail.expected, 12); // far from all traffic: the model-wide share
    // Moving away from the cluster, the neighbours within the radius thin out; the missing ones count at p₀.
    let t = 0;
    while (local.neighbours(s, Array(16).fill(-t), ownerOf('asker')).count === 16) t += 0.01;
    const edge = local.neighbours(s, Array(16).fill(-t), ownerOf('asker'));
    expect(edge.count).toBeGreaterThan(0);
    expect(local.expected(s, edge, 0, tail, 'low')).toBeCloseTo((edge.count + (16 - edge.count) * tail.expected) / 16, 12);
  });

  it('never lets a key vouch for itself: its own members are not its neighbours', () => {
    // The small-margin cluster is fed by one key, the rest by others.
    const { local, s } = twoClusters(256, (i) => `other-${i % 5}`);
    const own = twoClusters(256, () => 'self');
    const q = Array(16).fill(0);
    expect(local.expected(s, local.neighbours(s, q, ownerOf('self')), 0, tail, 'low')).toBe(1);
    expect(own.local.neighbours(own.s, q, ownerOf('self')).count).toBe(0);
    expect(own.local.expected(own.s, own.local.neighbours(own.s, q, ownerOf('self')), 0, tail, 'low')).toBe(tail.expected);
  });

  it('stays frozen within an epoch: what it is fed counts only once the epoch ends', () => {
    const { local, ctx, s, rand } = twoClusters();
    const before = s.rows;
    local.begin();
    local.sample(ctx, 'm', EPOCH + 1);
    for (let i = 0; i < 300; i++) local.feed(s, point(rand, 0), [0.9], ownerOf('late'));
    local.flush();
    expect(s.rows).toBe(before);
    expect(s.poolSeen).toBe(300);
    local.begin();
    local.sample(ctx, 'm', 2 * EPOCH);
    expect(s.rows).not.toBe(before);
    expect(s.n).toBe(512);
    expect(s.poolSeen).toBe(0);
  });

  it('is fed by keys judged unremarkable, by any unflagged key while it warms up, and within the per-key quota', () => {
    const ready = twoClusters();
    const fresh = new LocalBaseline(localBaselineSchema.parse({}), base, 1);
    const warming = fresh.sample(context(), 'm', 0)!;
    const q = () => createQuota();
    // Warming up: any key below the exclusion score, judged or not.
    expect(fresh.mayFeed(warming, q(), 0, 0, 50, 0)).toBe(true);
    expect(fresh.mayFeed(warming, q(), 0, base.excludeAboveScore, 50, 0)).toBe(false);
    // Ready: only keys judged on minEvents answers and found unremarkable.
    expect(ready.local.mayFeed(ready.s, q(), 49, 0, 50, EPOCH)).toBe(false);
    expect(ready.local.mayFeed(ready.s, q(), 50, 0, 50, EPOCH)).toBe(true);
    expect(ready.local.mayFeed(ready.s, q(), 500, base.excludeAboveScore, 50, EPOCH)).toBe(false);
    const quota = q();
    let fed = 0;
    for (let i = 0; i < 3 * base.perKeyEpochCap; i++) if (ready.local.mayFeed(ready.s, quota, 500, 0, 50, EPOCH + i)) fed++;
    expect(fed).toBe(base.perKeyEpochCap);
  });

  it('keeps no state and expects the model-wide share when disabled', () => {
    const local = new LocalBaseline(localBaselineSchema.parse({ enabled: false }), base, 1);
    const ctx = context();
    const s = local.sample(ctx, 'm', 0);
    expect(s).toBeNull();
    expect(ctx.entities.size).toBe(0);
    expect(local.expected(s, local.neighbours(s, Array(16).fill(0), 1), 0, tail, 'low')).toBe(tail.expected);
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
])('$def.name with its local baseline', ({ def, what }) => {
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
