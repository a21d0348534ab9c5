import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Decision, Level, RiskScore } from '../../src/contract.ts';
import type { Escalation } from '../../src/pipeline/DetectionPipeline.ts';
import { AlertQueue, type AlertTarget } from '../../src/sinks/AlertQueue.ts';
import { AlertSink } from '../../src/sinks/AlertSink.ts';
import type { SiemAlert } from '../../src/sinks/SiemAlert.ts';

/** A target that keeps what it is sent. */
class CollectingTarget implements AlertTarget {
  readonly name = 'collect';
  readonly sent: SiemAlert[] = [];
  async send(alert: SiemAlert): Promise<void> {
    this.sent.push(alert);
  }
}

function escalation(key: string, from: Level, to: Level, ts = 1_000): Escalation {
  const score: RiskScore = { api_key: key, ts, events_seen: 42, risk: 0.75, level: to, detectors: { volume: 0.4, 'grid-sweep': 0.7 }, evidence: ['grid-sweep: lattice steps'] };
  const decision: Decision = { api_key: key, level: to, reason: 'risk 0.75: grid-sweep: lattice steps', expires_at: ts + 60_000, shadow: false };
  return { from, score, decision, tenant: 'acme' };
}

describe('AlertSink', () => {
  it('alerts each step up to the alert level or above, with the evidence and the decision', async () => {
    const target = new CollectingTarget();
    const sink = new AlertSink([new AlertQueue(target, { capacity: 10, baseMs: 1, maxMs: 1, maxAttempts: 1, logger: pino({ level: 'silent' }) })], 'truncate');
    sink.publish([escalation('a', 'allow', 'throttle'), escalation('b', 'throttle', 'truncate'), escalation('c', 'allow', 'deceive'), escalation('b', 'truncate', 'block', 2_000)]);
    await sink.close(1_000);
    expect(target.sent.map((a) => [a.api_key, a.previous_level, a.level])).toEqual([
      ['b', 'throttle', 'truncate'],
      ['c', 'allow', 'deceive'],
      ['b', 'truncate', 'block'],
    ]);
    expect(target.sent[0]).toEqual({
      type: 'probewatch.alert',
      version: 1,
      id: 'b/1000/truncate',
      api_key: 'b',
      tenant: 'acme',
      level: 'truncate',
      previous_level: 'throttle',
      risk: 0.75,
      ts: 1_000,
      time: '1970-01-01T00:00:01.000Z',
      events_seen: 42,
      detectors: { volume: 0.4, 'grid-sweep': 0.7 },
      evidence: ['grid-sweep: lattice steps'],
      decision: { level: 'truncate', reason: 'risk 0.75: grid-sweep: lattice steps', expires_at: 61_000, shadow: false },
    });
  });

  it('follows a new alert level (hot reload)', async () => {
    const target = new CollectingTarget();
    const sink = new AlertSink([new AlertQueue(target, { capacity: 10, baseMs: 1, maxMs: 1, maxAttempts: 1, logger: pino({ level: 'silent' }) })], 'block');
    sink.publish([escalation('a', 'allow', 'throttle')]);
    sink.setMinLevel('throttle');
    sink.publish([escalation('b', 'allow', 'throttle')]);
    await sink.close(1_000);
    expect(target.sent.map((a) => a.api_key)).toEqual(['b']);
  });
});
