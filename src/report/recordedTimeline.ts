import { Writable } from 'node:stream';
import { replay } from '../cli/replay.ts';
import type { Config } from '../config/configSchema.ts';
import type { RiskScore } from '../contract.ts';
import { ProbewatchError } from '../errors.ts';
import { ResponseLadder } from '../policy/ResponseLadder.ts';
import { type KeyTimeline, type TimelineDecision, callOf, changesOf } from './KeyTimeline.ts';

/** A Writable that drops what it is given (replay's NDJSON is not needed here). */
export function nullWritable(): Writable {
  return new Writable({ write: (_chunk, _enc, done) => done() });
}

/** The config with a RiskScore for every call, so a key's every score is seen; levels and risks are unchanged. */
export function everyCall(config: Readonly<Config>): Readonly<Config> {
  return { ...config, publish: { ...config.publish, riskEveryEvents: 1 } };
}

/**
 * One key's timeline from a recorded stream: the same replay as `probewatch
 * replay` (same detectors, fusion and ladder, in event time), keeping the
 * key's score at each of its calls, its level changes with their evidence,
 * and the decisions the ladder issued with their TTLs.
 */
export async function recordedTimeline(path: string, config: Readonly<Config>, apiKey: string, err: Writable): Promise<KeyTimeline> {
  const scores: RiskScore[] = [];
  const decisions: TimelineDecision[] = [];
  let detectors: string[] = [];
  let tenant: string | null = null;
  await replay(path, everyCall(config), {
    out: nullWritable(),
    err,
    onBatch: (_events, output, pipeline) => {
      detectors = pipeline.detectors.map((d) => d.name);
      const mine = [...output.changes, ...output.updates].filter((s) => s.api_key === apiKey).sort((a, b) => a.events_seen - b.events_seen);
      scores.push(...mine);
      const issued = output.decisions.filter((d) => d.api_key === apiKey);
      if (issued.length === 0) return;
      const state = pipeline.store.peek(apiKey);
      // The batch's last decision was issued at the ladder's decidedAt; earlier ones are level changes, at their change's call.
      let level = scores.length > mine.length ? scores[scores.length - mine.length - 1].level : 'allow';
      const changeTimes: number[] = [];
      for (const s of mine) {
        if (s.level !== level) changeTimes.push(s.ts);
        level = s.level;
      }
      issued.forEach((d, i) => {
        const at = i === issued.length - 1 && state ? state.ladder.decidedAt : (changeTimes[i] ?? null);
        decisions.push({
          issued_at: at,
          level: d.level,
          by: 'ladder',
          subject: `key ${apiKey}`,
          expires_at: d.expires_at,
          ttl_ms: at === null ? null : d.expires_at - at,
          reason: d.reason,
          shadow: d.shadow,
        });
      });
      if (state?.tenant) tenant = state.tenant;
    },
  });
  if (scores.length === 0) throw new ProbewatchError('PW_USAGE', `key ${JSON.stringify(apiKey)} has no events in ${path}`);
  return {
    api_key: apiKey,
    source: 'recorded',
    origin: path,
    detectors,
    // The thresholds the key met: its tenant's, where the policy overrides them.
    thresholds: { ...new ResponseLadder(config.policy).policyFor(tenant).thresholds },
    calls: scores.map(callOf),
    changes: changesOf(scores),
    decisions,
    latest: scores[scores.length - 1],
  };
}
