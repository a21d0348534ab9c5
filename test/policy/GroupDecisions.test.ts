import { beforeAll, describe, expect, it } from 'vitest';
import type { GroupVerdict } from '../../detectors/types.ts';
import { decisionCodec } from '../../src/codec/contractCodecs.ts';
import type { Compute } from '../../src/compute/Compute.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import { type Decision, decisionSlot, levelRank } from '../../src/contract.ts';
import { DecisionCache } from '../../src/gateway/DecisionCache.ts';
import { DetectionPipeline } from '../../src/pipeline/DetectionPipeline.ts';
import { GroupDecisions } from '../../src/policy/GroupDecisions.ts';
import { ResponseLadder } from '../../src/policy/ResponseLadder.ts';
import { decisionFromHash, decisionToHash, parseDecisionMessage, decisionMessage } from '../../src/sinks/RedisDecisionStore.ts';
import { marginSampler } from '../detectors/helpers/attacks.ts';
import { testCompute } from '../detectors/helpers/compute.ts';
import { ATTACK_START, naturalScenario } from '../detectors/helpers/scenario.ts';
import { humanTimes, merge, naturalKey, scriptTimes } from '../detectors/helpers/world.ts';

const verdict = (subject: string, ts: number, score: number): GroupVerdict => ({ scope: 'prefix', subject, model: 'm', ts, score, keys: 9, evidence: () => `network ${subject}: pooled margins` });

describe('GroupDecisions', () => {
  it('climbs a ladder per group and publishes it from minLevel on, marked as a group decision', () => {
    const config = parseConfig({});
    const groups = new GroupDecisions(new ResponseLadder(config.policy), { minLevel: 'throttle', maxGroups: 10 });
    const t = 1_000_000;
    // Observe-level readings are not published.
    expect(groups.observe([verdict('203.0.113.0/24', t, config.policy.thresholds.observe)], false)).toEqual([]);
    const [d] = groups.observe([verdict('203.0.113.0/24', t + 1_000, 1)], false);
    expect(d).toMatchObject({ api_key: '203.0.113.0/24', scope: 'prefix', group: true, shadow: false });
    expect(levelRank(d.level)).toBeGreaterThanOrEqual(levelRank('truncate'));
    expect(d.reason).toBe('group evidence on model m: network 203.0.113.0/24: pooled margins');
    expect(decisionSlot(d)).toBe('group:prefix:203.0.113.0/24');
    // The same reading again decides nothing new; a group never read stays unknown.
    expect(groups.observe([verdict('203.0.113.0/24', t + 2_000, 1)], false)).toEqual([]);
    expect(groups.size).toBe(1);
  });

  it('keeps at most maxGroups ladders, forgetting the group idle longest', () => {
    const groups = new GroupDecisions(new ResponseLadder(parseConfig({}).policy), { minLevel: 'throttle', maxGroups: 2 });
    groups.observe([verdict('a', 1, 0.2), verdict('b', 2, 0.2), verdict('a', 3, 0.2), verdict('c', 4, 0.2)], false);
    expect(groups.size).toBe(2);
    // 'b' was forgotten: a reading of it starts a fresh ladder, and 'a' (read at 3) still holds its own.
    expect(groups.observe([verdict('c', 5, 1)], false)).toHaveLength(1);
  });

  it('round-trips through Avro, the Redis hash and the channel, and gateways do not apply it to anyone', () => {
    const d: Decision = { api_key: '203.0.113.0/24', level: 'deceive', reason: 'group', expires_at: 10_000, shadow: false, group: true, scope: 'prefix' };
    expect(decisionCodec.decode(decisionCodec.encode(d))).toEqual(d);
    expect(parseDecisionMessage(decisionMessage(d))).toEqual(d);
    expect(decisionFromHash(decisionSlot(d), decisionToHash(d))).toEqual(d);
    const cache = new DecisionCache({}, () => 0);
    cache.apply(d);
    expect(cache.decisionFor('203.0.113.0/24', { clientIp: '203.0.113.9' }).level).toBe('allow');
  });
});

describe('group decisions in the pipeline', () => {
  let compute: Compute;
  beforeAll(async () => {
    compute = await testCompute();
  });

  it('publishes a Sybil network as one group decision, none for natural networks and tenants, and raises no member on it alone', () => {
    const { world, natural } = naturalScenario();
    const office = ['a', 'b', 'c'].map((s, i) => naturalKey(world, `nat-office-${s}`, 200, humanTimes(world, 200, ATTACK_START, 20_000), { clientIp: `10.9.9.${10 + i}`, tenant: 'tenant-1' }));
    const sybils = Array.from({ length: 12 }, (_, k) => marginSampler(world, `syb-${k}`, scriptTimes(world, 40, ATTACK_START + k * 7_000, 3_000), 16, { clientIp: `203.0.113.${10 + k}`, tenant: `t-${k}` })).flat();
    const events = merge(natural, ...office, sybils);
    // The cross-key detector and the per-key views of the same facts (the others are not what this is about, and cost time).
    const off = { enabled: false };
    const config = parseConfig({ detectors: { volume: off, 'grid-sweep': off, 'recurring-offsets': off, 'off-manifold': off, 'output-drift': off } });
    const pipeline = new DetectionPipeline(config, { compute });
    const decisions: Decision[] = [];
    for (let i = 0; i < events.length; i += 500) decisions.push(...pipeline.processBatch(events.slice(i, i + 500)).decisions);

    const group = decisions.filter((d) => d.group);
    const network = group.filter((d) => d.scope === 'prefix' && d.api_key === '203.0.113.0/24');
    expect(network.length).toBeGreaterThan(0);
    expect(levelRank(network.at(-1)!.level)).toBeGreaterThanOrEqual(levelRank('throttle'));
    expect(network.at(-1)!.reason).toMatch(/^group evidence on model credit-v3: network 203\.0\.113\.0\/24, \d+ keys: \d+% of pooled answers had a top-1\/top-2 margin/);
    // Natural networks and tenants never become group decisions.
    for (const d of group) expect(d.api_key, JSON.stringify(d)).not.toMatch(/^10\.|^tenant-|^nat-/);
    // Members keep their own ladder: group evidence alone raises none of them to truncate.
    for (let k = 0; k < 12; k++) expect(levelRank(pipeline.store.peek(`syb-${k}`)!.ladder.level), `syb-${k}`).toBeLessThan(levelRank('truncate'));
  });
});

describe('group decisions over a long campaign', () => {
  let compute: Compute;
  beforeAll(async () => {
    compute = await testCompute();
  });

  /** The last group decision on the Sybil network, and the campaign's last event time. */
  function lastNetworkDecision(aggregates: object) {
    const { world, natural } = naturalScenario();
    // 12 keys behind one /24 querying the boundary every 30 s for 100 minutes: longer than a throttle's TTL (1 h).
    const sybils = Array.from({ length: 12 }, (_, k) => marginSampler(world, `syb-${k}`, scriptTimes(world, 200, ATTACK_START + k * 7_000, 30_000), 16, { clientIp: `203.0.113.${10 + k}` })).flat();
    const events = merge(natural, sybils);
    const off = { enabled: false };
    // Decisions that last 10 minutes, so a lapse shows within the campaign.
    const ttlMs = { observe: 600_000, throttle: 600_000, truncate: 600_000, deceive: 600_000, block: 600_000 };
    const config = parseConfig({
      detectors: { volume: off, 'grid-sweep': off, 'recurring-offsets': off, 'off-manifold': off, 'output-drift': off, 'boundary-probing': off, entropy: off, aggregates },
      policy: { ttlMs },
    });
    const pipeline = new DetectionPipeline(config, { compute });
    const network: Decision[] = [];
    for (let i = 0; i < events.length; i += 500) network.push(...pipeline.processBatch(events.slice(i, i + 500)).decisions.filter((d) => d.group && d.api_key === '203.0.113.0/24'));
    return { last: network.at(-1), campaignEnd: Math.max(...sybils.map((e) => e.ts)) };
  }

  it("refreshes a steady group's decision while the campaign goes on, and lets it lapse without the refresh readings", () => {
    // Coarse steps: the group's score stays on one step, so only the refresh readings reach its ladder.
    const steady = lastNetworkDecision({ verdictStep: 0.5 });
    expect(steady.last).toBeDefined();
    expect(steady.last!.expires_at).toBeGreaterThan(steady.campaignEnd);
    const never = lastNetworkDecision({ verdictStep: 0.5, verdictRefreshMs: 24 * 3_600_000 });
    expect(never.last).toBeDefined();
    expect(never.last!.expires_at).toBeLessThan(never.campaignEnd);
  });
});
