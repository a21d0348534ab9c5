import { z } from 'zod';
import { addToWindow, createWindow, type WindowCounter } from '../src/state/SlidingWindowCounter.ts';
import { type BatchWalk, eventTimeOrder, perGroup } from './shared/batch.ts';
import { entityName } from './shared/entityName.ts';
import { prefixOf } from './shared/prefixOf.ts';
import type { InferenceEvent } from '../src/contract.ts';
import type { Detector, DetectorContext, DetectorDefinition, KeyGroup } from './types.ts';
import { DOUBLE_ZERO } from '../src/state/doubleZero.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The four horizons, with bucket counts chosen so each window is exact to ~2-3%. */
const HORIZONS = [
  { name: 'minute', ms: MINUTE, buckets: 60 },
  { name: 'hour', ms: HOUR, buckets: 60 },
  { name: 'day', ms: DAY, buckets: 48 },
  { name: 'month', ms: 30 * DAY, buckets: 30 },
] as const;
type Horizon = (typeof HORIZONS)[number]['name'];

const limits = (minute: number, hour: number, day: number, month: number) =>
  z
    .object({
      minute: z.number().positive().default(minute),
      hour: z.number().positive().default(hour),
      day: z.number().positive().default(day),
      month: z.number().positive().default(month),
    })
    .strict()
    .prefault({});

export const volumeConfigSchema = z.object({
  /**
   * Per-key limits; the usual gateway limits are only defaults. DESIGN.md's
   * "about 10,000 a month" contradicts its 5,000 a day for an honest heavy
   * user who scores every day, so the month default is 30 days at the daily
   * limit, and the hour is 60 minutes at the minute limit.
   */
  key: limits(100, 6_000, 5_000, 150_000),
  /** Per client address: several keys behind one address add up. */
  ip: limits(300, 18_000, 15_000, 450_000),
  /** Per /24 (IPv4) or /64 (IPv6) network. */
  prefix: limits(1_000, 60_000, 50_000, 1_500_000),
  /** Share of a limit at which the score starts to rise. */
  softRatio: z.number().min(0).max(1).default(0.8),
  /**
   * Score at exactly the limit, and the most volume alone can give. A heavy
   * honest user runs near its limits (the quality benchmark's batch scorers
   * touch them), and the gateway's own rate limiter already enforces them,
   * so reaching a limit only puts a key under observation (0.45 < the
   * throttle threshold 0.5): volume alone throttles a key a quarter past
   * its limit (the score climbs to maxScore at twice it) and never more.
   */
  atLimitScore: z.number().min(0).max(1).default(0.45),
  maxScore: z.number().min(0).max(1).default(0.65),
  /** Spike arrest: a minute this many times the key's own active-minute baseline… */
  spikeFactor: z.number().positive().default(8),
  /** …with at least this many calls, after this many active minutes of history. */
  spikeMinCalls: z.number().int().positive().default(30),
  spikeMinHistoryMinutes: z.number().int().positive().default(10),
  /** EWMA weight of each new active minute in the baseline. */
  baselineAlpha: z.number().min(0).max(1).default(0.1),
  /** A spike alone observes (a batch job starting is a spike too); it needs other evidence to throttle. */
  spikeScore: z.number().min(0).max(1).default(0.45),
});
export type VolumeConfig = z.output<typeof volumeConfigSchema>;

type Windows = Record<Horizon, WindowCounter>;

interface VolumeState {
  windows: Windows;
  /** EWMA of calls per active minute, and how many active minutes fed it. */
  baseline: number;
  baselineMinutes: number;
  /** The minute being counted for the baseline, and its count so far. */
  minute: number;
  minuteCount: number;
}

function createWindows(): Windows {
  return Object.fromEntries(HORIZONS.map((h) => [h.name, createWindow(h.ms, h.buckets)])) as Windows;
}

/** Maps a count against its limit to a score: 0 below softRatio, atLimitScore at the limit, maxScore at twice it. */
function ratioScore(count: number, limit: number, c: VolumeConfig): number {
  const r = count / limit;
  if (r < c.softRatio) return 0;
  if (r < 1) return (c.atLimitScore * (r - c.softRatio)) / (1 - c.softRatio);
  return Math.min(c.maxScore, c.atLimitScore + (c.maxScore - c.atLimitScore) * (r - 1));
}

/** The worst window of an event; its sentence is written only when asked for (evidence is read for few events). */
/** What `step` reads and writes of one batch (see `BatchWalk`). */
interface VolumeWalk extends BatchWalk<VolumeState> {
  /** Each client's and network's windows, looked up once per batch. */
  ips: Map<string, Windows>;
  prefixes: Map<string, Windows>;
  reasons: Worst[][];
}

/** An entity's windows, looked up once per batch (`seen`) and created when missing. */
function windowsOf(ctx: DetectorContext, seen: Map<string, Windows>, kind: string, value: string): Windows {
  let w = seen.get(value);
  if (!w) seen.set(value, (w = ctx.aggregate(entityName(kind, value), createWindows)));
  return w;
}

interface Worst {
  score: number;
  /** 'key', 'client …' or 'network …' */
  who: string;
  entity: string | null;
  horizon: Horizon;
  count: number;
  limit: number;
  /** Set for a spike (its sentence is built with it). */
  sentence: string | null;
}

interface Spike {
  score: number;
  sentence: string;
}

const NO_SPIKE: Spike = Object.freeze({ score: 0, sentence: '' });

function sentenceOf(w: Worst): string {
  if (w.sentence !== null) return w.sentence;
  const who = w.entity === null ? w.who : `${w.who} ${w.entity}`;
  return `${who} made ${w.count} calls in the last ${w.horizon} (limit ${w.limit})`;
}

/**
 * Volume: sliding windows at minute/hour/day/month per key, per client IP and
 * per IP prefix, plus spike arrest against the key's own baseline.
 */
export class VolumeDetector implements Detector<VolumeState> {
  readonly name = 'volume';
  readonly kind = 'rate';
  readonly family = 'rate' as const;
  constructor(private readonly config: VolumeConfig) {}

  initState(): VolumeState {
    return { windows: createWindows(), baseline: DOUBLE_ZERO, baselineMinutes: 0, minute: -1, minuteCount: 0 };
  }

  processBatch(groups: readonly KeyGroup<VolumeState>[], ctx: DetectorContext) {
    const scores = perGroup(groups, (g) => new Float64Array(g.events.length));
    const reasons = perGroup(groups, (g) => new Array<Worst>(g.events.length));
    // Per poll: each client's and network's windows are looked up once, not once per event.
    const walk: VolumeWalk = { groups, ctx, ips: new Map(), prefixes: new Map(), scores, reasons };
    // Client and network windows are shared by keys: walked in event time, a key's count never includes another
    // key's later calls of the same poll, so the scores do not depend on how the stream was cut into polls. One
    // `step` call per event (see `BatchWalk`).
    const order = eventTimeOrder(groups);
    for (let o = 0; o < order.length; o++) this.step(walk, order[o].g, order[o].i, order[o].e);
    return groups.map((grp, g) => {
      const explain = (i: number) => (reasons[g][i]?.score > 0 ? [sentenceOf(reasons[g][i])] : []);
      return { scores: scores[g], evidence: explain(grp.events.length - 1), explain };
    });
  }

  /** One event of the batch, in event time across keys (`processBatch`'s step). */
  private step(w: VolumeWalk, g: number, i: number, e: InferenceEvent): void {
    const c = this.config;
    const state = w.groups[g].state;
    const worst: Worst = { score: DOUBLE_ZERO, who: '', entity: null, horizon: 'minute', count: DOUBLE_ZERO, limit: 0, sentence: '' };
    this.consider(worst, e.ts, 'key', null, state.windows, c.key);
    if (e.client_ip) {
      this.consider(worst, e.ts, 'client', e.client_ip, windowsOf(w.ctx, w.ips, 'ip:', e.client_ip), c.ip);
      const prefix = prefixOf(e.client_ip);
      if (prefix) this.consider(worst, e.ts, 'network', prefix, windowsOf(w.ctx, w.prefixes, 'prefix:', prefix), c.prefix);
    }
    const spike = this.updateSpike(state, e.ts);
    if (spike.score > worst.score) {
      worst.score = spike.score;
      worst.sentence = spike.sentence;
    }
    w.scores[g][i] = worst.score;
    w.reasons[g][i] = worst;
  }

  private consider(worst: Worst, ts: number, who: string, entity: string | null, windows: Windows, lim: VolumeConfig['key']): void {
    const c = this.config;
    for (const h of HORIZONS) {
      const count = addToWindow(windows[h.name], ts);
      const s = ratioScore(count, lim[h.name], c);
      if (s > worst.score) {
        worst.score = s;
        worst.who = who;
        worst.entity = entity;
        worst.horizon = h.name;
        worst.count = count;
        worst.limit = lim[h.name];
        worst.sentence = null;
      }
    }
  }

  private updateSpike(state: VolumeState, ts: number): Spike {
    const c = this.config;
    const minute = Math.floor(ts / MINUTE);
    if (minute > state.minute) {
      if (state.minute >= 0 && state.minuteCount > 0) {
        state.baseline = state.baselineMinutes === 0 ? state.minuteCount : c.baselineAlpha * state.minuteCount + (1 - c.baselineAlpha) * state.baseline;
        state.baselineMinutes++;
      }
      state.minute = minute;
      state.minuteCount = 0;
    }
    if (minute === state.minute) state.minuteCount++;
    const n = state.minuteCount;
    if (state.baselineMinutes >= c.spikeMinHistoryMinutes && n >= c.spikeMinCalls && n > c.spikeFactor * state.baseline) {
      return { score: c.spikeScore, sentence: `${n} calls this minute, ${(n / Math.max(state.baseline, 1e-9)).toFixed(1)}x the key's baseline of ${state.baseline.toFixed(1)}/min` };
    }
    return NO_SPIKE;
  }
}

export const volume: DetectorDefinition<VolumeConfig, VolumeState> = {
  name: 'volume',
  description: 'call volume per key, client IP and IP prefix at minute/hour/day/month horizons, with spike arrest',
  configSchema: volumeConfigSchema,
  create: (config) => new VolumeDetector(config),
};
