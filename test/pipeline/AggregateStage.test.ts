import { beforeAll, describe, expect, it } from 'vitest';
import { AggregatesDetector, aggregatesConfigSchema } from '../../detectors/aggregates.ts';
import type { AggregateFact } from '../../detectors/shared/aggregateFacts.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import { AggregateStage, type StagePartitionState } from '../../src/pipeline/AggregateStage.ts';
import { AggregateStageLink } from '../../src/pipeline/AggregateStageLink.ts';
import { decodeStageValue, encodeStageValue } from '../../src/pipeline/aggregateStageCodec.ts';
import { marginSampler } from '../detectors/helpers/attacks.ts';
import { testCompute } from '../detectors/helpers/compute.ts';
import { DEFAULT_REFERENCE, runDetector } from '../detectors/helpers/runDetector.ts';
import { ATTACK_START, naturalScenario } from '../detectors/helpers/scenario.ts';
import { merge, scriptTimes } from '../detectors/helpers/world.ts';

let compute: Compute;
beforeAll(async () => {
  compute = await testCompute();
});

// The model reference's gate reads the detector's scores, which differ while readings travel; here it admits every key, so both runs feed it alike.
const reference = { ...DEFAULT_REFERENCE, gate: { ...DEFAULT_REFERENCE.gate, excludeAboveScore: 2 } };
const plain = <T>(v: T): T => decodeStageValue<T>(encodeStageValue(v as object));

describe('AggregateStage', () => {
  it('pools from the facts exactly the views the detector pools locally, and sends a model digest only when it changed', () => {
    const { world, natural } = naturalScenario();
    const attack = Array.from({ length: 12 }, (_, k) => marginSampler(world, `syb-${k}`, scriptTimes(world, 40, ATTACK_START + k * 7_000, 3_000), 16, { clientIp: `203.0.113.${10 + k}`, tenant: `t-${k}` })).flat();
    const events = merge(natural, attack);
    const config = aggregatesConfigSchema.parse({});

    const local = runDetector(new AggregatesDetector(config), events, compute, 500, undefined, reference);
    const link = new AggregateStageLink();
    runDetector(new AggregatesDetector(config), events, compute, 500, undefined, reference, link);
    const facts = link.takeFacts().map((m) => decodeStageValue<AggregateFact>(m.value));
    const stage = new AggregateStage(new AggregatesDetector(config));
    stage.restore(0, null);
    facts.forEach((f, i) => expect(stage.apply(0, i, f)).toBe(true));
    expect(stage.apply(0, 3, facts[3])).toBe(false);

    const pooled = decodeStageValue<StagePartitionState>(stage.snapshot(0)).entities;
    const localEntities = [...local.aggregates.keys()].filter((e) => /^(tenant|prefix|geo):/.test(e));
    expect(Object.keys(pooled).sort()).toEqual(localEntities.sort());
    for (const e of localEntities) expect(pooled[e], e).toEqual(plain(local.aggregates.get(e)));
    expect(pooled['prefix:203.0.113.0/24']['credit-v3'].contributions).toBeGreaterThan(400);

    // Digests travel on a small share of the facts; no fact carries an input, a sketch or probabilities.
    const withDigest = facts.filter((f) => f.digest).length;
    expect(withDigest).toBeGreaterThan(0);
    expect(withDigest / facts.length).toBeLessThan(0.2);
    for (const f of facts.slice(0, 200)) expect(Object.keys(f).every((k) => !/sketch|probs|hash|ip/.test(k))).toBe(true);

    // The stage's reading of the network, as every per-key instance receives it.
    const net = stage.readings().find((r) => r.entity === 'prefix:203.0.113.0/24')!;
    expect(net.keys).toBeGreaterThanOrEqual(3);
    expect(net.scores.margin).toBe(1);
    expect(net.detail.margin).toMatch(/of pooled answers had a top-1\/top-2 margin </);
  });

  it('bounds a partition like the per-key stage: idle entities go, then the least recently fed past a kind\'s cap', () => {
    const stage = new AggregateStage(new AggregatesDetector(aggregatesConfigSchema.parse({})), { maxEntities: { prefix: 2, other: 10 }, idleEvictMs: 60_000 });
    stage.restore(0, null);
    const fact = (entity: string, ts: number): AggregateFact => ({ entity, model: 'm', key: 'k', ts, epoch: 0, label: 1, bucket: 3 });
    let offset = 0;
    for (const [entity, ts] of [['tenant:old', 0], ['prefix:a', 100_000], ['prefix:b', 110_000], ['prefix:c', 120_000], ['tenant:new', 120_000]] as const) stage.apply(0, offset++, fact(entity, ts));
    expect(stage.evict(0)).toEqual({ idle: 1, capacity: 1 });
    const st = decodeStageValue<StagePartitionState>(stage.snapshot(0));
    expect(Object.keys(st.entities).sort()).toEqual(['prefix:b', 'prefix:c', 'tenant:new']);
    expect(Object.keys(st.last).every((slot) => slot.split('\u0000')[0] in st.entities)).toBe(true);
  });
});
