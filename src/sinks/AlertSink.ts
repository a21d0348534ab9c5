import { type Level, levelRank } from '../contract.ts';
import type { Escalation } from '../pipeline/DetectionPipeline.ts';
import type { AlertQueue } from './AlertQueue.ts';
import { toSiemAlert } from './SiemAlert.ts';

/**
 * Alerts to SIEMs: each time a key steps up to `minLevel` or above it, one
 * alert goes to every destination's queue. Called once a batch's outputs
 * are acknowledged; never blocks the batch (queues deliver in the
 * background).
 */
export class AlertSink {
  constructor(
    private readonly queues: readonly AlertQueue[],
    private minLevel: Level,
  ) {}

  /** The alert level can change at a config reload. */
  setMinLevel(level: Level): void {
    this.minLevel = level;
  }

  publish(escalations: readonly Escalation[]): void {
    const min = levelRank(this.minLevel);
    for (const e of escalations) {
      if (levelRank(e.score.level) < min) continue;
      const alert = toSiemAlert(e);
      for (const q of this.queues) q.push(alert);
    }
  }

  /** Delivers what waits for up to `graceMs`, then drops the rest (counted). */
  async close(graceMs = 5_000): Promise<void> {
    await Promise.all(this.queues.map((q) => q.close(graceMs)));
  }
}
