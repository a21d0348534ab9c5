import { z } from 'zod';
import type { InferenceEvent } from '../contract.ts';
import type { ModelReference } from '../baselines/ModelReference.ts';
import type { SuccessionState } from '../state/SuccessionState.ts';

export type { SuccessionState };

export const successionSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** A fresh key can take over from a flagged key of the same model whose last call came at most this long before its first. */
    handoverMs: z.number().int().positive().default(300_000),
    /** The fresh key's first calls over which the flagged key must stay silent and the two must look alike before the link holds. */
    confirmCalls: z.number().int().min(4).max(256).default(16),
    /** Their median gaps between calls lie within this factor of each other… */
    paceRatio: z.number().min(1).default(2),
    /**
     * …and their gaps are alike as distributions: a two-sample Kolmogorov–Smirnov test does not reject at this
     * level (a script and a person with the same median gap are not one client).
     */
    paceAlpha: z.number().gt(0).lt(1).default(0.01),
    /**
     * Share of the fresh key's confirming queries that lie nearer to the flagged key's last queries than to an
     * as-large sample of the model's traffic (`ModelReference.nearestOfSample`), at least: a fresh key working
     * elsewhere in the input space is not the flagged key's continuation. Three quarters: of 16 queries, 12 or
     * more fall nearer one of two equally near samples by chance in under 4% of fresh keys.
     */
    nearerShare: z.number().min(0).max(1).default(0.75),
    /** A flagged key's last calls remembered (times, risks and sketch prefixes). */
    ring: z.number().int().min(4).max(128).default(32),
    /** A key is remembered from its first call at this risk or more (null: the throttle threshold). */
    minRisk: z.number().min(0).max(1).nullable().default(null),
    /** Most keys remembered per model; past it the one quiet longest is forgotten. */
    maxKeysPerModel: z.number().int().positive().default(1024),
  })
  .strict();

export type SuccessionConfig = z.output<typeof successionSchema>;

/** A remembered key's last calls, oldest first. */
interface Remembered {
  ts: number[];
  risk: number[];
  /** Sketch prefixes, row-major. */
  sketches: number[];
  dim: number;
}

/**
 * Key rotation: an extraction campaign that moves to a fresh API key when
 * the current one is flagged or has made its quota (the distributed
 * adversary of Juuti et al., PRADA, EuroS&P 2019 §VI; Tramèr et al. 2016 §8
 * on per-key rate limits). Per-key accounting sees each key start from
 * nothing. A fresh key takes over a flagged key's campaign when, on the
 * same model, its first call comes within `handoverMs` of the flagged key's
 * last, the flagged key stays silent through the fresh key's first
 * `confirmCalls` calls, the two call at the same pace, and the fresh key's
 * queries lie where the flagged key's did rather than where the model's
 * traffic does. All four are facts about the fresh key's own calls: an
 * honest newcomer that happens to start as a flagged key stops would also
 * have to match its pace and its region of the input space.
 *
 * A linked key carries the flagged key's risk at its last call (the
 * campaign's level does not reset with the key): its risk is the noisy-OR
 * of that and its own, each key's evidence coming from its own calls, and
 * the link counts as an extraction-specific signature of that strength:
 * evading per-key accounting is what a campaign does and an honest user
 * does not, so the key's own evidence of one family is no longer held
 * below truncate.
 *
 * Determinism: keys of a batch are processed in the order of their first
 * event in it, so a flagged key's calls before a fresh key's first are
 * remembered before the fresh key is seen; a flagged key's calls during the
 * confirming window are looked up in the batch itself as well. The one
 * case left to batch boundaries: a flagged key that makes more than `ring`
 * calls after the confirming window within the fresh key's batch.
 *
 * The keys remembered live in process memory: after a restart, links still
 * pending are not made (a linked key keeps its link in its own state).
 */
export class KeySuccession {
  private readonly models = new Map<string, Map<string, Remembered>>();
  private readonly minRisk: number;
  /** Links made so far (for the metric). */
  linksMade = 0;

  constructor(
    private readonly config: SuccessionConfig,
    throttle: number,
  ) {
    this.minRisk = config.minRisk ?? throttle;
  }

  /**
   * Called for every call of every key after its `eventsSeen` counts it and before its risk is fused:
   * starts, feeds and settles a pending link. Returns the risk carried into this call (0: none).
   */
  carried(
    state: { eventsSeen: number; succession?: SuccessionState },
    key: string,
    ev: InferenceEvent,
    reference: (model: string) => ModelReference | null,
    batchEvents: (key: string) => readonly InferenceEvent[] | undefined,
  ): number {
    const link = state.succession;
    if (link?.linked) return link.fromRisk;
    if (state.eventsSeen === 1) {
      state.succession = this.candidate(key, ev, reference(ev.model_id));
      if (!state.succession) return 0;
    }
    const pending = state.succession;
    if (!pending || pending.linked) return 0;
    const dim = pending.dim!;
    pending.ts!.push(ev.ts);
    for (let c = 0; c < dim; c++) pending.sketches!.push(ev.input_sketch[c] ?? 0);
    if (pending.ts!.length < this.config.confirmCalls) return 0;
    if (this.holds(pending, ev.ts, reference(ev.model_id), batchEvents(pending.from))) {
      pending.linked = true;
      this.linksMade++;
      delete pending.fromSketches;
      delete pending.fromGaps;
      delete pending.ts;
      delete pending.sketches;
      delete pending.dim;
      return pending.fromRisk;
    }
    delete state.succession;
    return 0;
  }

  /** Remembers a call of a key at or past `minRisk` (or of one remembered already). */
  observe(key: string, ev: InferenceEvent, risk: number, reference: ModelReference | null): void {
    let keys = this.models.get(ev.model_id);
    let r = keys?.get(key);
    if (!r) {
      if (!(risk >= this.minRisk)) return;
      if (!keys) this.models.set(ev.model_id, (keys = new Map()));
      const dim = reference ? reference.queryDim(ev.input_sketch) : Math.min(8, ev.input_sketch.length);
      keys.set(key, (r = { ts: [], risk: [], sketches: [], dim }));
      if (keys.size > this.config.maxKeysPerModel) this.forgetQuietest(keys);
    } else {
      // Most recently used last: the first entry is the one quiet longest.
      keys!.delete(key);
      keys!.set(key, r);
    }
    r.ts.push(ev.ts);
    r.risk.push(risk);
    for (let c = 0; c < r.dim; c++) r.sketches.push(ev.input_sketch[c] ?? 0);
    if (r.ts.length > this.config.ring) {
      r.ts.shift();
      r.risk.shift();
      r.sketches.splice(0, r.dim);
    }
  }

  /** Forgets keys quiet for longer than a handover could reach back (twice `handoverMs` before `now`). */
  prune(now: number): void {
    const horizon = now - 2 * this.config.handoverMs;
    for (const [model, keys] of this.models) {
      for (const [key, r] of keys) {
        if (r.ts[r.ts.length - 1] >= horizon) break;
        keys.delete(key);
      }
      if (keys.size === 0) this.models.delete(model);
    }
  }

  /** Keys remembered, over all models. */
  get size(): number {
    let n = 0;
    for (const keys of this.models.values()) n += keys.size;
    return n;
  }

  /**
   * A linked key's risk: its own fused risk and the risk it carries, as two independent facts about one
   * campaign (noisy-OR): the flagged key's evidence came from its calls, this key's from its own.
   */
  static combine(own: number, carried: number): number {
    return carried > 0 ? 1 - (1 - own) * (1 - carried) : own;
  }

  /** One sentence on a linked key, for its RiskScore's evidence. */
  static evidence(link: SuccessionState): string {
    const gap = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    return (
      `succession: continues key ${link.from}'s campaign (risk ${round(link.fromRisk)} at its last call, its level's threshold if higher, ${gap(link.firstTs - link.fromTs)} before this key's first): ` +
      `it went quiet as this fresh key started, both call every ${gap(link.fromGapMs)} / ${gap(link.gapMs ?? 0)} (median), ` +
      `and ${Math.round((link.nearer ?? 0) * 100)}% of this key's first queries lie nearer its last queries than the model's traffic`
    );
  }

  /** The flagged key that went quiet last before `ev`, within the handover (none: undefined). */
  private candidate(key: string, ev: InferenceEvent, reference: ModelReference | null): SuccessionState | undefined {
    const keys = this.models.get(ev.model_id);
    if (!keys) return undefined;
    let best: { from: string; r: Remembered; j: number } | undefined;
    for (const [from, r] of keys) {
      if (from === key) continue;
      // Its last call before this key's first (calls after it, within this batch, may be remembered already).
      let j = r.ts.length - 1;
      while (j >= 0 && r.ts[j] >= ev.ts) j--;
      if (j < 1 || ev.ts - r.ts[j] > this.config.handoverMs || !(r.risk[j] >= this.minRisk)) continue;
      if (!best || r.ts[j] > best.r.ts[best.j]) best = { from, r, j };
    }
    if (!best) return undefined;
    const { from, r, j } = best;
    const dim = reference ? Math.min(r.dim, reference.queryDim(ev.input_sketch)) : r.dim;
    const fromSketches: number[] = [];
    for (let i = 0; i <= j; i++) for (let c = 0; c < dim; c++) fromSketches.push(r.sketches[i * r.dim + c]);
    return {
      from,
      model: ev.model_id,
      fromTs: r.ts[j],
      fromRisk: r.risk[j],
      fromGapMs: medianGap(r.ts, j + 1),
      fromGaps: gapsOf(r.ts, j + 1),
      firstTs: ev.ts,
      linked: false,
      fromSketches,
      dim,
      ts: [],
      sketches: [],
    };
  }

  /** At the last confirming call (`now`): silent, alike in pace, and in the flagged key's region. */
  private holds(p: SuccessionState, now: number, reference: ModelReference | null, fromBatch: readonly InferenceEvent[] | undefined): boolean {
    const r = this.models.get(p.model)?.get(p.from);
    const spoke = (ts: number) => ts >= p.firstTs && ts <= now;
    if (r) {
      if (r.ts.some(spoke)) return false;
      // Its ring holds only calls after this key's first: whether it spoke in the window cannot be told.
      if (r.ts.length === this.config.ring && r.ts[0] > p.fromTs) return false;
    }
    if (fromBatch?.some((e) => spoke(e.ts))) return false;
    const gapMs = medianGap(p.ts!, p.ts!.length);
    const ratio = gapMs > p.fromGapMs ? gapMs / Math.max(p.fromGapMs, 1) : p.fromGapMs / Math.max(gapMs, 1);
    if (!(ratio <= this.config.paceRatio)) return false;
    if (!samePace(p.fromGaps!, gapsOf(p.ts!, p.ts!.length), this.config.paceAlpha)) return false;
    if (!reference) return false;
    const nearer = nearerShare(p, reference);
    if (!(nearer >= this.config.nearerShare)) return false;
    p.gapMs = gapMs;
    p.nearer = nearer;
    return true;
  }

  private forgetQuietest(keys: Map<string, Remembered>): void {
    const first = keys.keys().next();
    if (!first.done) keys.delete(first.value);
  }
}

/** Gaps between consecutive calls among the first `n` times (ms). */
function gapsOf(ts: readonly number[], n: number): number[] {
  const gaps: number[] = [];
  for (let i = 1; i < n; i++) gaps.push(ts[i] - ts[i - 1]);
  return gaps;
}

/**
 * Two samples of gaps from one pacing: the two-sample Kolmogorov–Smirnov statistic D stays under its
 * asymptotic critical value c(α)·√((n + m)/(n·m)), c(α) = √(−ln(α/2)/2).
 */
export function samePace(a: readonly number[], b: readonly number[], alpha: number): boolean {
  if (a.length === 0 || b.length === 0) return false;
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i], y[j]);
    while (i < x.length && x[i] <= v) i++;
    while (j < y.length && y[j] <= v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  const n = x.length;
  const m = y.length;
  return d <= Math.sqrt(-Math.log(alpha / 2) / 2) * Math.sqrt((n + m) / (n * m));
}

/** Median gap between consecutive calls among the first `n` times (ms; 0 with fewer than two). */
function medianGap(ts: readonly number[], n: number): number {
  if (n < 2) return 0;
  const gaps = Float64Array.from(gapsOf(ts, n));
  gaps.sort();
  const m = gaps.length >> 1;
  return gaps.length % 2 ? gaps[m] : (gaps[m - 1] + gaps[m]) / 2;
}

/**
 * Share of the pending key's queries nearer to the flagged key's last queries than to an as-large sample of
 * the model's traffic (NaN-safe: a reference that cannot be compared gives 0).
 */
function nearerShare(p: SuccessionState, reference: ModelReference): number {
  const dim = p.dim!;
  const from = p.fromSketches!;
  const rows = from.length / dim;
  const mine = p.sketches!;
  const out = { sq: 0, compared: 0 };
  let nearer = 0;
  let judged = 0;
  for (let q = 0; q < mine.length; q += dim) {
    reference.nearestOfSample(mine, q, dim, rows, 0, out);
    if (out.compared === 0) continue;
    judged++;
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < from.length; i += dim) {
      let sq = 0;
      for (let c = 0; c < dim && sq < best; c++) {
        const d = mine[q + c] - from[i + c];
        sq += d * d;
      }
      if (sq < best) best = sq;
    }
    if (best < out.sq) nearer++;
  }
  return judged === 0 ? 0 : nearer / judged;
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
