import { writeFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import type { Config } from '../config/configSchema.ts';
import { ProbewatchError } from '../errors.ts';
import type { Logger } from '../observability/logger.ts';
import { createKafka } from '../pipeline/kafkaClient.ts';
import type { KeyTimeline } from '../report/KeyTimeline.ts';
import { liveTimeline } from '../report/liveTimeline.ts';
import { recordedTimeline } from '../report/recordedTimeline.ts';
import { timelineHtml } from '../report/timelineHtml.ts';
import { timelineText } from '../report/timelineText.ts';

export interface ExplainOptions {
  /** A recorded stream (as for replay); absent with `live`. */
  file?: string;
  live?: boolean;
  json?: boolean;
  html?: string;
  config: Readonly<Config>;
  env: Record<string, string | undefined>;
  logger: Logger;
  out: Writable;
  err: Writable;
  now?: () => number;
}

async function live(apiKey: string, o: ExplainOptions, now: number): Promise<KeyTimeline> {
  const redis = new Redis(o.config.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => {
    // Reported by the command that failed.
  });
  try {
    try {
      await redis.connect();
    } catch (cause) {
      throw new ProbewatchError('PW_SINK', `cannot reach Redis at redis.url (${o.config.redis.url}): ${(cause as Error).message}`, { cause });
    }
    return await liveTimeline(o.config, apiKey, { kafka: createKafka(o.config.kafka, o.env, o.logger), redis, now });
  } finally {
    redis.disconnect();
  }
}

/**
 * `probewatch explain KEY`: one key's story — its level changes with the
 * evidence, its risk and each detector's score over its calls, and the
 * decisions about it with their TTLs and reasons — from a recorded stream
 * (the same replay as `probewatch replay`) or, with `--live`, from the risk
 * and decisions topics and Redis. Text for a terminal, `--json` for tools,
 * `--html FILE` for a self-contained page with a plot.
 */
export async function explain(apiKey: string, o: ExplainOptions): Promise<number> {
  if (Boolean(o.live) === (o.file !== undefined)) throw new ProbewatchError('PW_USAGE', 'explain: give a recorded stream FILE, or --live (not both)');
  const now = (o.now ?? Date.now)();
  const timeline = o.live ? await live(apiKey, o, now) : await recordedTimeline(o.file!, o.config, apiKey, o.err);
  if (o.html) {
    try {
      writeFileSync(o.html, timelineHtml(timeline, o.live ? now : undefined));
    } catch (cause) {
      throw new ProbewatchError('PW_USAGE', `--html: cannot write ${o.html}: ${(cause as Error).message}`, { cause });
    }
    o.err.write(`wrote ${o.html}\n`);
  }
  if (o.json) o.out.write(JSON.stringify(timeline, null, 2) + '\n');
  else if (!o.html) o.out.write(timelineText(timeline, o.live ? now : undefined));
  return 0;
}
