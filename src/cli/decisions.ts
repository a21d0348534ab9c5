import { loadDecisionKey } from '../codec/decisionSignature.ts';
import type { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { Partitioners } from 'kafkajs';
import type { Config } from '../config/configSchema.ts';
import { type Decision, type DecisionScope, LEVELS, type Level, decisionSlot, levelRank } from '../contract.ts';
import { ProbewatchError } from '../errors.ts';
import { Cidr } from '../net/Cidr.ts';
import type { Logger } from '../observability/logger.ts';
import { createKafka } from '../pipeline/kafkaClient.ts';
import { KafkaPublisher } from '../sinks/KafkaPublisher.ts';
import { ManualDecisionStore } from '../sinks/ManualDecisionStore.ts';
import { decisionFromHash, decisionRedisKey } from '../sinks/RedisDecisionStore.ts';
import { globEscape } from '../state/redisGlob.ts';
import { textTable } from '../report/textTable.ts';
import { durationText } from '../report/timeText.ts';
import { parseDuration } from './parseDuration.ts';

/** Levels an analyst may set by hand. */
export const MANUAL_LEVELS = ['allow', 'throttle', 'block'] as const satisfies readonly Level[];

export interface DecisionsContext {
  config: Readonly<Config>;
  env: Record<string, string | undefined>;
  logger: Logger;
  out: Writable;
  now?: () => number;
}

/** Which subject an add or delete names: exactly one of `--key`, `--prefix`, `--tenant`. */
export interface SubjectOptions {
  key?: string;
  prefix?: string;
  tenant?: string;
}

/** Resolves the one subject named, normalising a prefix to its network (`192.0.2.7/24` → `192.0.2.0/24`). */
export function subjectOf(opts: SubjectOptions): { scope: DecisionScope; subject: string } {
  const given = (['key', 'prefix', 'tenant'] as const).filter((s) => opts[s] !== undefined);
  if (given.length !== 1) throw new ProbewatchError('PW_USAGE', `name exactly one of --key, --prefix or --tenant (got ${given.length ? given.map((g) => `--${g}`).join(', ') : 'none'})`);
  const scope = given[0];
  const value = opts[scope]!.trim();
  if (value === '') throw new ProbewatchError('PW_USAGE', `--${scope}: must not be empty`);
  if (scope !== 'prefix') return { scope, subject: value };
  const cidr = Cidr.parse(value);
  if (!cidr) throw new ProbewatchError('PW_USAGE', `--prefix: expected an IP network like 192.0.2.0/24 or 2001:db8::/32, got ${JSON.stringify(value)}`);
  return { scope, subject: cidr.toString() };
}

/** A manual decision from the command line's words, checked. */
export function manualDecision(opts: SubjectOptions & { level: string; ttl: string; reason?: string }, now: number): Decision {
  const { scope, subject } = subjectOf(opts);
  if (!(MANUAL_LEVELS as readonly string[]).includes(opts.level)) {
    throw new ProbewatchError('PW_USAGE', `--level: expected one of ${MANUAL_LEVELS.join(', ')}, got ${JSON.stringify(opts.level)}`);
  }
  const reason = opts.reason?.trim() ?? '';
  if (reason === '') throw new ProbewatchError('PW_USAGE', '--reason: say who decided and why (it reaches the gateways and the audit trail)');
  const d: Decision = { api_key: subject, level: opts.level as Level, reason, expires_at: now + parseDuration(opts.ttl, '--ttl'), shadow: false, manual: true };
  if (scope !== 'key') d.scope = scope;
  return d;
}

/** Opens the store clients for one command and closes them after `fn`. */
async function withStores<T>(ctx: DecisionsContext, kafkaToo: boolean, fn: (s: { manual: ManualDecisionStore; redis: Redis; kafka?: KafkaPublisher }) => Promise<T>): Promise<T> {
  const { config } = ctx;
  // Manual decisions are signed like the pipeline's, or gateways holding the key would drop them.
  const signingKey = loadDecisionKey(ctx.env);
  const redis = new Redis(config.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => {
    // Reported by the command that failed.
  });
  let publisher: KafkaPublisher | undefined;
  try {
    try {
      await redis.connect();
    } catch (cause) {
      throw new ProbewatchError('PW_SINK', `cannot reach Redis at redis.url (${config.redis.url}): ${(cause as Error).message}`, { cause });
    }
    if (kafkaToo) {
      const kafka = createKafka(config.kafka, ctx.env, ctx.logger);
      publisher = new KafkaPublisher(kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true, retry: { retries: 3 } }), config.kafka.topics, signingKey);
      try {
        await publisher.start();
      } catch (cause) {
        publisher = undefined;
        throw new ProbewatchError('PW_SINK', `cannot reach Kafka at kafka.brokers (${config.kafka.brokers.join(',')}): ${(cause as Error).message}`, { cause });
      }
    }
    const manual = new ManualDecisionStore(redis, { keyPrefix: config.redis.keyPrefix, channel: config.redis.decisionChannel, now: ctx.now, signingKey });
    return await fn({ manual, redis, kafka: publisher });
  } finally {
    await publisher?.close().catch(() => undefined);
    redis.disconnect();
  }
}

/** The ladder's decisions in force (the gateways' snapshot: every decision hash). */
export async function automaticDecisions(redis: Redis, keyPrefix: string, now: number): Promise<Decision[]> {
  const prefix = decisionRedisKey(keyPrefix, '');
  const out: Decision[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 1_000);
    cursor = next;
    if (keys.length === 0) continue;
    const pipe = redis.pipeline();
    for (const k of keys) pipe.hgetall(k);
    const results = (await pipe.exec()) ?? [];
    results.forEach(([err, hash], i) => {
      const d = err ? undefined : decisionFromHash(keys[i].slice(prefix.length), hash as Record<string, string>);
      if (d && d.expires_at > now) out.push(d);
    });
  } while (cursor !== '0');
  return out;
}

/** `probewatch decisions list`: what gateways enforce now, by level; `json` prints the decisions as a JSON array. */
export async function listDecisions(ctx: DecisionsContext, opts: { json?: boolean }): Promise<number> {
  const now = (ctx.now ?? Date.now)();
  const { auto, manual } = await withStores(ctx, false, async (s) => ({ auto: await automaticDecisions(s.redis, ctx.config.redis.keyPrefix, now), manual: await s.manual.list() }));
  const all = [...manual, ...auto].sort((a, b) => levelRank(b.level) - levelRank(a.level) || decisionSlot(a).localeCompare(decisionSlot(b)));
  if (opts.json) {
    ctx.out.write(JSON.stringify(all, null, 2) + '\n');
    return 0;
  }
  const keys = auto.filter((d) => !d.group);
  const counts = LEVELS.slice()
    .reverse()
    .map((l) => `${l} ${keys.filter((d) => d.level === l && !d.shadow).length}`);
  const groups = auto.length - keys.length;
  ctx.out.write(`keys at each level now (ladder): ${counts.join(', ')}; manual decisions: ${manual.length}${groups ? `; group decisions (advisory, not enforced): ${groups}` : ''}\n`);
  if (all.length === 0) return 0;
  const rows = all.map((d) => [
    d.level + (d.shadow ? ' (shadow)' : ''),
    `${d.scope ?? 'key'} ${d.api_key}`,
    d.manual ? 'manual' : d.group ? 'group (advisory)' : 'ladder',
    durationText(d.expires_at - now),
    d.reason,
  ]);
  ctx.out.write(textTable(['LEVEL', 'SUBJECT', 'BY', 'EXPIRES IN', 'REASON'], rows, ''));
  return 0;
}

/** `probewatch decisions add`: stores, announces and publishes a manual decision, as the pipeline delivers its own. */
export async function addDecision(ctx: DecisionsContext, opts: SubjectOptions & { level: string; ttl: string; reason?: string }): Promise<number> {
  const d = manualDecision(opts, (ctx.now ?? Date.now)());
  await withStores(ctx, true, async (s) => {
    await s.manual.put(d);
    await s.kafka!.publish({ risk: [], decisions: [d], deadLetters: [] });
  });
  ctx.out.write(`${d.level} ${d.scope ?? 'key'} ${d.api_key} until ${new Date(d.expires_at).toISOString()} (manual: ${d.reason})\n`);
  return 0;
}

/** `probewatch decisions delete`: ends a manual decision at once (gateways fall back to the ladder's decision, if any). */
export async function deleteDecision(ctx: DecisionsContext, opts: SubjectOptions & { reason?: string }): Promise<number> {
  const { scope, subject } = subjectOf(opts);
  const ended = await withStores(ctx, true, async (s) => {
    const d = await s.manual.remove(scope, subject, opts.reason?.trim() ?? '');
    if (d) await s.kafka!.publish({ risk: [], decisions: [d], deadLetters: [] });
    return d;
  });
  if (!ended) {
    ctx.out.write(`no manual decision in force for ${scope} ${subject}\n`);
    return 1;
  }
  ctx.out.write(`removed the manual ${ended.level} on ${scope} ${subject}\n`);
  return 0;
}
