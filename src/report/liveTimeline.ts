import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { decisionCodec, riskScoreCodec } from '../codec/contractCodecs.ts';
import type { Config } from '../config/configSchema.ts';
import { type Decision, type RiskScore, decisionSlot } from '../contract.ts';
import { ProbewatchError } from '../errors.ts';
import { ResponseLadder } from '../policy/ResponseLadder.ts';
import { ManualDecisionStore } from '../sinks/ManualDecisionStore.ts';
import { decisionFromHash, decisionRedisKey } from '../sinks/RedisDecisionStore.ts';
import { RedisSnapshotStore } from '../state/RedisSnapshotStore.ts';
import type { KeyState } from '../state/KeyStateStore.ts';
import { type KeyTimeline, type TimelineDecision, callOf, changesOf } from './KeyTimeline.ts';
import { readTopic } from './readTopic.ts';

export interface LiveTimelineDeps {
  kafka: Kafka;
  redis: Redis;
  now: number;
  /** How long each topic may take to be read to its end. */
  timeoutMs?: number;
}

/** The key's latest score from its snapshot: what the pipeline holds now, evidence of the detectors scoring above zero. */
function scoreFromState(s: KeyState): RiskScore {
  const evidence = Object.entries(s.scores)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1])
    .flatMap(([name]) => (s.evidence[name] ?? []).map((e) => `${name}: ${e}`));
  return { api_key: s.key, ts: s.lastTs, events_seen: s.eventsSeen, risk: s.risk, level: s.ladder.level, detectors: { ...s.scores }, evidence };
}

function timelineDecision(d: Decision, issuedAt: number | null, inForce: boolean): TimelineDecision {
  return {
    issued_at: issuedAt,
    level: d.level,
    by: d.manual ? 'manual' : 'ladder',
    subject: `${d.scope ?? 'key'} ${d.api_key}`,
    expires_at: d.expires_at,
    ttl_ms: issuedAt === null ? null : d.expires_at - issuedAt,
    reason: d.reason,
    shadow: d.shadow,
    in_force: inForce,
  };
}

/**
 * One key's timeline from a running deployment: every RiskScore published
 * for it on the risk topic, every decision about it (the ladder's, and
 * analysts' on the key or its tenant) on the decisions topic, marked when
 * still in force in Redis, and its current state from its snapshot.
 */
export async function liveTimeline(config: Readonly<Config>, apiKey: string, deps: LiveTimelineDeps): Promise<KeyTimeline> {
  const { kafka, redis, now } = deps;
  const state = (await new RedisSnapshotStore(redis, { keyPrefix: config.redis.keyPrefix, ttlMs: config.state.snapshotTtlMs }).load([apiKey])).get(apiKey);
  const tenant = state?.tenant ?? null;
  const slots = new Set([apiKey, decisionSlot({ api_key: apiKey, manual: true })]);
  if (tenant !== null) slots.add(decisionSlot({ api_key: tenant, manual: true, scope: 'tenant' }));

  const [riskMessages, decisionMessages] = await Promise.all([
    readTopic(kafka, config.kafka.topics.risk, (k) => k === apiKey, deps.timeoutMs),
    readTopic(kafka, config.kafka.topics.decisions, (k) => slots.has(k), deps.timeoutMs),
  ]);
  const bySeen = new Map<number, RiskScore>();
  for (const m of riskMessages) {
    try {
      const s = riskScoreCodec.decode(m.value);
      if (s.api_key === apiKey && !s.final) bySeen.set(s.events_seen, s);
    } catch {
      // Not a RiskScore (another writer on the topic): nothing to explain.
    }
  }
  const scores = [...bySeen.values()].sort((a, b) => a.events_seen - b.events_seen);
  if (state && state.eventsSeen > (scores.at(-1)?.events_seen ?? 0)) scores.push(scoreFromState(state));
  if (scores.length === 0 && decisionMessages.length === 0) {
    throw new ProbewatchError('PW_USAGE', `key ${JSON.stringify(apiKey)}: no score, decision or snapshot found (topics ${config.kafka.topics.risk}, ${config.kafka.topics.decisions}; Redis prefix ${config.redis.keyPrefix})`);
  }

  // What the gateways hold now, to mark the decisions still in force.
  const current = new Map<string, Decision>();
  const auto = decisionFromHash(apiKey, await redis.hgetall(decisionRedisKey(config.redis.keyPrefix, apiKey)));
  if (auto && auto.expires_at > now) current.set(apiKey, auto);
  for (const d of await new ManualDecisionStore(redis, { keyPrefix: config.redis.keyPrefix, channel: config.redis.decisionChannel, now: () => now }).list()) {
    if (slots.has(decisionSlot(d))) current.set(decisionSlot(d), d);
  }
  const same = (a: Decision, b: Decision | undefined) => b !== undefined && a.level === b.level && a.expires_at === b.expires_at && a.reason === b.reason;
  const decisions: TimelineDecision[] = [];
  const shown = new Set<string>();
  for (const m of decisionMessages.sort((a, b) => a.timestamp - b.timestamp)) {
    let d: Decision;
    try {
      d = decisionCodec.decode(m.value);
    } catch {
      continue;
    }
    const inForce = same(d, current.get(decisionSlot(d)));
    if (inForce) shown.add(decisionSlot(d));
    decisions.push(timelineDecision(d, m.timestamp, inForce));
  }
  // In force but no longer on the topic (retention): shown without an issue time.
  for (const [slot, d] of current) if (!shown.has(slot)) decisions.push(timelineDecision(d, null, true));

  const detectors = [...new Set(scores.flatMap((s) => Object.keys(s.detectors)))];
  return {
    api_key: apiKey,
    source: 'live',
    origin: `topics ${config.kafka.topics.risk} and ${config.kafka.topics.decisions}, Redis ${config.redis.keyPrefix}`,
    detectors,
    thresholds: { ...new ResponseLadder(config.policy).policyFor(tenant).thresholds },
    calls: scores.map(callOf),
    changes: changesOf(scores),
    decisions,
    latest: scores.at(-1),
  };
}
