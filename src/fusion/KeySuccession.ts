import { z } from 'zod';
import type { InferenceEvent } from '../contract.ts';
import { type AnswerStatistics, answerStatistics } from '../baselines/answerStatistics.ts';
import type { LeastCertain, ModelReference } from '../baselines/ModelReference.ts';
import type { SuccessionCandidate, SuccessionState } from '../state/SuccessionState.ts';
import { DOUBLE_ZERO } from '../state/doubleZero.ts';

export type { SuccessionState };

export const successionSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** A fresh key can take over from a flagged key of the same model whose last call came at most this long before its first. */
    handoverMs: z.number().int().positive().default(300_000),
    /** The fresh key's first calls over which the flagged key must stay silent and the two must look alike before the link holds (the first look). */
    confirmCalls: z.number().int().min(4).max(256).default(16),
    /**
     * A pending link that fails the first look on the nearer test alone (silent, alike in pace) is looked at
     * once more at this many of the fresh key's calls, over all of them (0: one look only). More queries give
     * the nearer test the power that 16 lack when the campaign's queries are spread along a boundary.
     */
    lookAgainCalls: z.number().int().min(0).max(256).default(32),
    /** Their median gaps between calls lie within this factor of each other… */
    paceRatio: z.number().min(1).default(2),
    /**
     * …and their gaps are alike as distributions: a two-sample Kolmogorov–Smirnov test does not reject at this
     * level (a script and a person with the same median gap are not one client).
     */
    paceAlpha: z.number().gt(0).lt(1).default(0.01),
    /**
     * The nearer test. Each of the fresh key's queries lies nearer to the flagged key's last queries or to an
     * as-large sample of the model's traffic (`ModelReference.nearestOfSample`); a fresh key unrelated to the
     * flagged key, sampling as the traffic does, lies nearer either with even odds. The link needs as many
     * nearer queries as such a key reaches by chance with probability at most this (binomial tail): 12 of 16,
     * 22 of 32. A fresh key working elsewhere in the input space is not the flagged key's continuation; two looks
     * let an unrelated key through at most twice this often, and only one that also passed the silence and pace
     * tests.
     */
    nearerAlpha: z.number().gt(0).lt(0.5).default(0.04),
    /**
     * The answer test, a link's other way when the queries moved on (an active learner's do, as its copy
     * changes): the flagged key's last answers and the fresh key's both fall among the model's least certain
     * answers (margin in the lowest `answerTailShare` of the reference's members) more often than the
     * traffic's answers of the same classes do, by more than chance gives (the tail of the sum of one trial
     * per answer at its class's share among the members: at most `answerAlpha` each). Judged per class, a key
     * that asks about every class alike (a stratified evaluation set, whose rare classes are the uncertain
     * ones) is not read as seeking uncertainty. It holds what the two keys were answered alike where they
     * queried did not set them apart: at least half the fresh key's queries must still lie nearer the flagged
     * key's than the traffic's, as a continuation's do and a key working elsewhere's do not (0: off).
     */
    answerTailShare: z.number().min(0).lt(0.5).default(0.25),
    /**
     * The answer test's level, stricter than the nearer test's: its chance rates are the members' shares per
     * class, estimated from the reference, where the nearer test's even odds hold by construction.
     */
    answerAlpha: z.number().gt(0).lt(0.5).default(0.01),
    /** A flagged key's last calls remembered (times, risks and sketch prefixes). */
    ring: z.number().int().min(4).max(128).default(32),
    /** A key is remembered from its first call at this risk or more (null: the throttle threshold). */
    minRisk: z.number().min(0).max(1).nullable().default(null),
    /** Most keys remembered per model; past it the one quiet longest is forgotten. */
    maxKeysPerModel: z.number().int().positive().default(1024),
  })
  .strict()
  .refine((c) => c.lookAgainCalls === 0 || c.lookAgainCalls > c.confirmCalls, {
    message: 'lookAgainCalls must be 0 (one look) or more than confirmCalls',
    path: ['lookAgainCalls'],
  });

export type SuccessionConfig = z.output<typeof successionSchema>;

/** A remembered key's last calls, oldest first. */
interface Remembered {
  ts: number[];
  risk: number[];
  /** The model's margin and top-1 class on each call (NaN where the answer did not say). */
  margins: number[];
  labels: number[];
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
 * traffic does (more of them nearer than even odds give by chance), or both
 * keys' answers lie among the model's least certain more often than the
 * traffic's do by chance (the answer test: a campaign that seeks uncertain
 * answers keeps doing so on its next key wherever its queries moved). A
 * link that fails on the last test alone is looked at once more, over the
 * fresh key's first `lookAgainCalls` calls. All four are facts about the
 * fresh key's own calls: an honest newcomer that happens to start as a
 * flagged key stops would also have to match its pace and its region of the
 * input space or the uncertainty of its answers.
 *
 * A linked key carries the flagged key's risk at its last call (the
 * campaign's level does not reset with the key): its risk is the noisy-OR
 * of that and its own, each key's evidence coming from its own calls, and
 * the link counts as an extraction-specific signature of that strength:
 * evading per-key accounting is what a campaign does and an honest user
 * does not, so the key's own evidence of one family is no longer held
 * (count-once fusion). A flagged key is remembered at the risk its
 * evidence marks it with (`FusionAssessment.marked`), not the lower one a
 * hold below throttle enforces: a rotator whose every key shows one family
 * is followed across its keys all the same.
 *
 * Determinism (the output must not depend on where batches are cut): the
 * pipeline processes a batch's keys in the order of their first event in
 * it, so a flagged key's calls before a fresh key's first are remembered
 * before the fresh key is seen; a remembered key keeps every call of the
 * batch in hand and is trimmed to `ring` calls only at the batch's end; the
 * candidates are all flagged keys quiet at the fresh key's first call
 * (the latest four), and the one it continues is chosen at a look (its
 * `confirmCalls`-th or `lookAgainCalls`-th call), its silence checked against the batch's own events;
 * the model's reference is read as the batch's detectors read it.
 *
 * The keys remembered live in process memory: after a restart, links still
 * pending are not made (a linked key keeps its link in its own state).
 */
/** Flagged keys that went quiet before a fresh key's first call, considered as its predecessor. */
const MAX_CANDIDATES = 4;

export class KeySuccession {
  private readonly models = new Map<string, Map<string, Remembered>>();
  private readonly minRisk: number;
  /** Links made so far (for the metric). */
  linksMade = 0;
  /** Scratch for a call's answer statistics. */
  private readonly answer: AnswerStatistics = { margin: Number.NaN, entropy: Number.NaN, label: Number.NaN };

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
    pending.ts!.push(ev.ts);
    // A link restored from a snapshot taken before the answer test has no margins: it is judged without one.
    if (pending.margins && pending.labels) {
      const a = answerStatistics(ev, this.answer);
      pending.margins.push(a.margin);
      pending.labels.push(a.label);
    }
    // Sketch prefixes as wide as the widest candidate's (each compares its own width).
    const dim = pending.candidates!.reduce((m, c) => Math.max(m, c.dim), 0);
    for (let c = 0; c < dim; c++) pending.sketches!.push(ev.input_sketch[c] ?? 0);
    const calls = pending.ts!.length;
    const lastLook = Math.max(this.config.confirmCalls, this.config.lookAgainCalls);
    if (calls !== this.config.confirmCalls && calls !== lastLook) return 0;
    const outcome = this.holds(pending, ev.ts, reference(ev.model_id), batchEvents);
    if (outcome === 'linked') {
      pending.linked = true;
      this.linksMade++;
      // Dropped by clearing, not deleting: the state keeps its shape.
      pending.candidates = undefined;
      pending.ts = undefined;
      pending.sketches = undefined;
      pending.margins = undefined;
      pending.labels = undefined;
      return pending.fromRisk;
    }
    // Failed on the nearer test alone: gather calls until the second look.
    if (outcome === 'nearer' && calls < lastLook) return 0;
    state.succession = undefined;
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
      keys.set(key, (r = { ts: [], risk: [], margins: [], labels: [], sketches: [], dim }));
      if (keys.size > this.config.maxKeysPerModel) this.forgetQuietest(keys);
    } else {
      // Most recently used last: the first entry is the one quiet longest.
      keys!.delete(key);
      keys!.set(key, r);
    }
    r.ts.push(ev.ts);
    r.risk.push(risk);
    const a = answerStatistics(ev, this.answer);
    r.margins.push(a.margin);
    r.labels.push(a.label);
    for (let c = 0; c < r.dim; c++) r.sketches.push(ev.input_sketch[c] ?? 0);
    // Trimmed to `ring` only at the batch's end (`prune`): within a batch a key's calls before another key's first stay at hand.
  }

  /**
   * At a batch's end: trims each remembered key to its last `ring` calls, and forgets keys quiet for longer
   * than a handover could reach back (twice `handoverMs` before `now`).
   */
  prune(now: number): void {
    const horizon = now - 2 * this.config.handoverMs;
    const ring = this.config.ring;
    for (const [model, keys] of this.models) {
      for (const [key, r] of keys) {
        if (r.ts[r.ts.length - 1] < horizon) {
          keys.delete(key);
          continue;
        }
        const over = r.ts.length - ring;
        if (over > 0) {
          r.ts.splice(0, over);
          r.risk.splice(0, over);
          r.margins.splice(0, over);
          r.labels.splice(0, over);
          r.sketches.splice(0, over * r.dim);
        }
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
      (link.answerTail === undefined
        ? `and ${Math.round((link.nearer ?? 0) * 100)}% of this key's first queries lie nearer its last queries than the model's traffic`
        : `and ${pct(link.answerTail)} of this key's first answers and ${pct(link.fromAnswerTail ?? 0)} of its last lie among the model's least certain ${pct(link.answerShare ?? 0)} ` +
          `(the traffic's answers of the same classes: ${pct(link.answerExpected ?? 0)} and ${pct(link.fromAnswerExpected ?? 0)}; ${pct(link.nearer ?? 0)} of its first queries lie nearer its last than the traffic)`)
    );
  }

  /**
   * The flagged keys whose last call before `ev` came within the handover, the latest first (at most
   * `MAX_CANDIDATES`; none: undefined). Which of them, if any, this key continues is settled at its last
   * confirming call: a key still calling meanwhile is no predecessor.
   */
  private candidate(key: string, ev: InferenceEvent, reference: ModelReference | null): SuccessionState | undefined {
    const keys = this.models.get(ev.model_id);
    if (!keys) return undefined;
    const found: { from: string; r: Remembered; j: number }[] = [];
    for (const [from, r] of keys) {
      if (from === key) continue;
      // Its last call before this key's first (its calls after it, within this batch, are remembered already).
      let j = r.ts.length - 1;
      while (j >= 0 && r.ts[j] >= ev.ts) j--;
      if (j < 1 || ev.ts - r.ts[j] > this.config.handoverMs || !(r.risk[j] >= this.minRisk)) continue;
      found.push({ from, r, j });
    }
    if (found.length === 0) return undefined;
    found.sort((x, y) => y.r.ts[y.j] - x.r.ts[x.j] || (x.from < y.from ? -1 : 1));
    const candidates = found.slice(0, MAX_CANDIDATES).map(({ from, r, j }): SuccessionCandidate => {
      const dim = reference ? Math.min(r.dim, reference.queryDim(ev.input_sketch)) : r.dim;
      const start = Math.max(0, j + 1 - this.config.ring);
      const fromSketches: number[] = [];
      for (let i = start; i <= j; i++) for (let c = 0; c < dim; c++) fromSketches.push(r.sketches[i * r.dim + c]);
      const ts = r.ts.slice(start, j + 1);
      const fromMargins = r.margins.slice(start, j + 1);
      const fromLabels = r.labels.slice(start, j + 1);
      return { from, fromTs: r.ts[j], fromRisk: r.risk[j] + DOUBLE_ZERO, fromGapMs: medianGap(ts, ts.length), fromGaps: gapsOf(ts, ts.length), fromSketches, fromMargins, fromLabels, dim };
    });
    const first = candidates[0];
    return {
      from: first.from,
      model: ev.model_id,
      fromTs: first.fromTs,
      fromRisk: first.fromRisk,
      fromGapMs: first.fromGapMs,
      firstTs: ev.ts,
      linked: false,
      candidates,
      ts: [],
      sketches: [],
      margins: [],
      labels: [],
      // Set when the link is made (`holds`): here from the start, so that every succession state has one shape.
      gapMs: undefined,
      nearer: undefined,
      answerTail: undefined,
      answerExpected: undefined,
      fromAnswerTail: undefined,
      fromAnswerExpected: undefined,
      answerShare: undefined,
    };
  }

  /**
   * At a look (`now`, the pending key's latest call): the latest candidate silent since, alike in pace, and in
   * the region it worked links (`linked`); `nearer` if some candidate failed the nearer test alone.
   */
  private holds(
    p: SuccessionState,
    now: number,
    reference: ModelReference | null,
    batchEvents: (key: string) => readonly InferenceEvent[] | undefined,
  ): 'linked' | 'nearer' | 'no' {
    if (!reference) return 'no';
    const spoke = (ts: number) => ts >= p.firstTs && ts <= now;
    const gapMs = medianGap(p.ts!, p.ts!.length);
    const gaps = gapsOf(p.ts!, p.ts!.length);
    const width = p.candidates!.reduce((m, c) => Math.max(m, c.dim), 0);
    let outcome: 'nearer' | 'no' = 'no';
    const share = this.config.answerTailShare;
    // The model's least certain answers: margins below the reference members' `share` quantile, per class.
    const least = share > 0 && p.margins && p.labels ? reference.leastCertain(share) : null;
    const mine = least && Number.isFinite(least.threshold) ? uncertainExcess(p.margins!, p.labels!, least) : null;
    const mineHolds = mine !== null && mine.judged > 0 && mine.tail <= this.config.answerAlpha;
    for (const c of p.candidates!) {
      const r = this.models.get(p.model)?.get(c.from);
      if (r?.ts.some(spoke) || batchEvents(c.from)?.some((e) => spoke(e.ts))) continue;
      const ratio = gapMs > c.fromGapMs ? gapMs / Math.max(c.fromGapMs, 1) : c.fromGapMs / Math.max(gapMs, 1);
      if (!(ratio <= this.config.paceRatio) || !samePace(c.fromGaps, gaps, this.config.paceAlpha)) continue;
      const { nearer, judged } = nearerCount(c.fromSketches, c.dim, p.sketches!, width, reference);
      const link = { from: c.from, fromTs: c.fromTs, fromRisk: c.fromRisk, fromGapMs: c.fromGapMs, gapMs, nearer: judged > 0 ? nearer / judged : 0 };
      if (judged > 0 && evenOddsTail(judged, nearer) <= this.config.nearerAlpha) {
        Object.assign(p, link);
        return 'linked';
      }
      // Linked on answers, the place must not say otherwise: at least as many of its queries nearer the flagged key's as not.
      const notElsewhere = judged > 0 && 2 * nearer >= judged;
      const theirs = mineHolds && notElsewhere && c.fromMargins && c.fromLabels ? uncertainExcess(c.fromMargins, c.fromLabels, least!) : null;
      if (theirs && theirs.judged > 0 && theirs.tail <= this.config.answerAlpha) {
        Object.assign(p, link, {
          answerTail: mine!.hits / mine!.judged,
          answerExpected: mine!.expected / mine!.judged,
          fromAnswerTail: theirs.hits / theirs.judged,
          fromAnswerExpected: theirs.expected / theirs.judged,
          answerShare: share,
        });
        return 'linked';
      }
      outcome = 'nearer';
    }
    return outcome;
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
 * How many of the pending key's queries lie nearer to the flagged key's last queries than to an as-large
 * sample of the model's traffic, of those the reference could compare (NaN-safe: none judged is no evidence).
 */
function nearerCount(from: readonly number[], dim: number, mine: readonly number[], stride: number, reference: ModelReference): { nearer: number; judged: number } {
  const rows = from.length / dim;
  const out = { sq: 0, compared: 0 };
  let nearer = 0;
  let judged = 0;
  const x = new Float64Array(dim);
  for (let q = 0; q + dim <= mine.length; q += stride) {
    for (let c = 0; c < dim; c++) x[c] = mine[q + c];
    reference.nearestOfSample(x, 0, dim, rows, 0, out);
    if (out.compared === 0) continue;
    judged++;
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < from.length; i += dim) {
      let sq = 0;
      for (let c = 0; c < dim && sq < best; c++) {
        const d = x[c] - from[i + c];
        sq += d * d;
      }
      if (sq < best) best = sq;
    }
    if (best < out.sq) nearer++;
  }
  return { nearer, judged };
}

/** P(X ≥ k) for X ~ Binomial(n, 1/2): the chance of k or more of n even-odds trials (n ≤ 1,000). */
export function evenOddsTail(n: number, k: number): number {
  return binomialTail(n, k, 0.5);
}

/** P(X ≥ k) for X ~ Binomial(n, p), 0 < p < 1 (n ≤ 1,000). */
export function binomialTail(n: number, k: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  let term = (1 - p) ** n;
  const odds = p / (1 - p);
  let tail = 0;
  for (let j = 0; j <= n; j++) {
    if (j >= k) tail += term;
    term = (term * (n - j) * odds) / (j + 1);
  }
  return Math.min(1, tail);
}

/**
 * Of the answers that say something (a finite margin and a class), how many lie among the model's least
 * certain, and the chance of as many or more for answers of the same classes drawn like the members' (the
 * upper tail of a Poisson-binomial sum, one trial per answer at its class's share).
 */
export function uncertainExcess(margins: readonly number[], labels: readonly number[], least: LeastCertain): { hits: number; judged: number; expected: number; tail: number } {
  const p: number[] = [];
  let hits = 0;
  for (let i = 0; i < margins.length; i++) {
    if (!Number.isFinite(margins[i]) || !Number.isFinite(labels[i])) continue;
    p.push(least.byLabel.get(labels[i]) ?? least.q);
    if (margins[i] < least.threshold) hits++;
  }
  return { hits, judged: p.length, expected: p.reduce((a, b) => a + b, 0), tail: poissonBinomialTail(p, hits) };
}

/** P(X ≥ k) for X the number of successes of independent trials with probabilities `p`. */
export function poissonBinomialTail(p: readonly number[], k: number): number {
  if (k <= 0) return 1;
  if (k > p.length) return 0;
  // dist[j]: P(j successes so far).
  const dist = new Float64Array(p.length + 1);
  dist[0] = 1;
  for (let i = 0; i < p.length; i++) {
    for (let j = i + 1; j >= 1; j--) dist[j] = dist[j] * (1 - p[i]) + dist[j - 1] * p[i];
    dist[0] *= 1 - p[i];
  }
  let tail = 0;
  for (let j = k; j <= p.length; j++) tail += dist[j];
  return Math.min(1, tail);
}

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
