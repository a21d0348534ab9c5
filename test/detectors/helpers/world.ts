import type { InferenceEvent } from '../../../src/contract.ts';
import { buildEvent } from '../../../src/gateway/buildEvent.ts';
import { mulberry32, RandomProjection } from '../../../src/gateway/RandomProjection.ts';

/**
 * A small synthetic deployment for detector tests: "real records" drawn from
 * a Gaussian mixture (one component per class, skewed class priors), a
 * plausible softmax model (the mixture's Bayes posterior at a temperature),
 * and the gateway's random projection for sketches. Everything is seeded.
 */
export class World {
  readonly dim: number;
  readonly classes: number;
  readonly means: number[][];
  readonly priors: number[];
  readonly sigma: number;
  readonly projection: RandomProjection;
  readonly modelId: string;
  private readonly rand: () => number;
  private seq = 0;

  /** With `rank`: the `dim` × rank matrix that maps a record's latent draw to its raw features. */
  private readonly mixing: number[][] | null;
  private readonly latentMeans: number[][];

  /**
   * `rank` (below `dim`): records lie on a rank-`rank` subspace of the raw features (a latent Gaussian
   * mixture mixed into `dim` correlated features), as real tabular data do; the class means are the
   * latent means mixed.
   */
  constructor(options: { seed?: number; dim?: number; classes?: number; modelId?: string; priors?: number[]; spread?: number; rank?: number } = {}) {
    this.rand = mulberry32(options.seed ?? 7);
    this.dim = options.dim ?? 10;
    this.classes = options.classes ?? 5;
    this.modelId = options.modelId ?? 'credit-v3';
    this.sigma = 1;
    const spread = options.spread ?? 0.8;
    const rank = options.rank ?? 0;
    this.mixing = rank > 0 ? Array.from({ length: this.dim }, () => Array.from({ length: rank }, () => this.gauss() / Math.sqrt(rank))) : null;
    this.latentMeans = Array.from({ length: this.classes }, () => Array.from({ length: rank || this.dim }, () => this.gauss() * spread));
    this.means = this.latentMeans.map((m) => this.mix(m));
    const raw = options.priors ?? [0.36, 0.26, 0.18, 0.12, 0.08].slice(0, this.classes);
    const total = raw.reduce((a, b) => a + b, 0);
    this.priors = raw.map((p) => p / total);
    this.projection = new RandomProjection(this.dim, 16, 0x5eed);
  }

  uniform(): number {
    return this.rand();
  }

  gauss(): number {
    const u = Math.max(this.rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.rand());
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rand() * items.length)];
  }

  sampleClass(priors = this.priors): number {
    let u = this.rand();
    for (let c = 0; c < priors.length; c++) {
      u -= priors[c];
      if (u <= 0) return c;
    }
    return priors.length - 1;
  }

  /** A real record: a draw from the class's component. */
  record(cls = this.sampleClass()): number[] {
    if (!this.mixing) return this.means[cls].map((m) => m + this.gauss() * this.sigma);
    return this.mix(this.latentMeans[cls].map((m) => m + this.gauss() * this.sigma));
  }

  private mix(latent: readonly number[]): number[] {
    const a = this.mixing;
    if (!a) return [...latent];
    return a.map((row) => row.reduce((sum, w, k) => sum + w * latent[k], 0));
  }

  /** The model's answer: the mixture posterior softened by a temperature. */
  probs(x: readonly number[], temperature = 1.5): number[] {
    const logits = this.means.map((mu, c) => {
      let d = 0;
      for (let i = 0; i < this.dim; i++) d += (x[i] - mu[i]) ** 2;
      return (-d / (2 * this.sigma ** 2) + Math.log(this.priors[c])) / temperature;
    });
    const max = Math.max(...logits);
    const exp = logits.map((l) => Math.exp(l - max));
    const sum = exp.reduce((a, b) => a + b, 0);
    return exp.map((v) => v / sum);
  }

  /** The InferenceEvent a gateway emits for a query `x`. */
  event(apiKey: string, x: readonly number[], ts: number, extra: { tenant?: string; clientIp?: string; input?: string } = {}): InferenceEvent {
    const id = this.seq++;
    return buildEvent(
      {
        apiKey,
        modelId: this.modelId,
        input: extra.input ?? x.map((v) => v.toFixed(6)).join(','),
        features: x,
        probs: this.probs(x),
        tenant: extra.tenant ?? null,
        clientIp: extra.clientIp ?? null,
        ts,
        eventId: `${apiKey}-${id}`,
      },
      { projection: this.projection },
    );
  }
}

/** Human-like arrival times: bursts of a few calls seconds apart, separated by minutes of think time. */
export function humanTimes(world: World, n: number, start: number, meanPauseMs = 90_000): number[] {
  const out: number[] = [];
  let t = start;
  while (out.length < n) {
    const burst = 1 + Math.floor(world.uniform() * 6);
    for (let b = 0; b < burst && out.length < n; b++) {
      t += 500 + Math.floor(world.uniform() * 4_000);
      out.push(t);
    }
    t += Math.floor(-Math.log(Math.max(world.uniform(), 1e-9)) * meanPauseMs);
  }
  return out;
}

/** A script's arrival times: a fixed period with a little jitter. */
export function scriptTimes(world: World, n: number, start: number, periodMs = 2_000, jitter = 0.02): number[] {
  return Array.from({ length: n }, (_, i) => start + Math.round(i * periodMs + (world.uniform() - 0.5) * 2 * jitter * periodMs));
}

/** `n` natural queries of one key. */
export function naturalKey(world: World, key: string, n: number, times: number[], extra: { tenant?: string; clientIp?: string } = {}): InferenceEvent[] {
  return times.slice(0, n).map((t) => world.event(key, world.record(), t, extra));
}

/** Background traffic: `keys` natural keys, `perKey` queries each, spread over `spanMs` from `start`. */
export function background(world: World, keys: number, perKey: number, start: number, spanMs: number, prefix = 'user'): InferenceEvent[] {
  const out: InferenceEvent[] = [];
  for (let k = 0; k < keys; k++) {
    // humanTimes bursts average 3.5 calls about 2.75 s apart: pause so that the key's calls fill the span.
    const pause = Math.max(1_000, spanMs / (perKey / 3.5) - 10_000);
    const times = humanTimes(world, perKey, start + Math.floor(world.uniform() * pause), pause).filter((t) => t < start + spanMs);
    out.push(...naturalKey(world, `${prefix}-${k}`, perKey, times, { tenant: `tenant-${k % 4}`, clientIp: `10.${k % 7}.${k}.${1 + (k % 200)}` }));
  }
  return out;
}

/** A legitimate what-if sweep: one record, one feature varied over `steps` equal steps. */
export function whatIfSweep(world: World, key: string, steps: number, times: number[], feature = 2): InferenceEvent[] {
  const base = world.record(0);
  const lo = base[feature] - 4;
  return Array.from({ length: steps }, (_, i) => {
    const x = base.slice();
    x[feature] = lo + (8 * i) / (steps - 1);
    return world.event(key, x, times[i]);
  });
}

/** One sweep of a sweep session: which feature, how many even steps, and the value at step `i` given the record's value. */
export interface Sweep {
  feature: number;
  steps: number;
  at(base: number, i: number): number;
}

/** What-if sessions: sweep after sweep (`sweep(s)` describes the s-th), each of one feature around a fresh real record. */
export function sweepSessions(world: World, key: string, times: number[], sweep: (s: number) => Sweep): InferenceEvent[] {
  const out: InferenceEvent[] = [];
  for (let s = 0; out.length < times.length; s++) {
    const base = world.record();
    const { feature, steps, at } = sweep(s);
    for (let i = 0; i < steps && out.length < times.length; i++) {
      const x = base.slice();
      x[feature] = at(base[feature], i);
      out.push(world.event(key, x, times[out.length]));
    }
  }
  return out;
}

/** A heavy user replaying a fixed test set of `setSize` real records `rounds` times, on a timer. */
export function replayTestSet(world: World, key: string, setSize: number, rounds: number, start: number, periodMs = 1_500): InferenceEvent[] {
  const set = Array.from({ length: setSize }, () => world.record());
  const times = scriptTimes(world, setSize * rounds, start, periodMs);
  return times.map((t, i) => world.event(key, set[i % setSize], t));
}

/** Merges streams into event-time order (stable). */
export function merge(...streams: InferenceEvent[][]): InferenceEvent[] {
  return streams.flat().sort((a, b) => a.ts - b.ts);
}

/**
 * A deployment with an ambiguous topic: two rare classes (0 and 1, 6% of records each) whose records lie
 * together, `apart` away from the others' means, and whose means are only `gap` apart — the model is unsure
 * between them all over the region where their records lie: a ball of the input space, as a season between
 * rain and fog is, not a thin boundary between classes. At the defaults about 40% of the topic's answers
 * have a top-1/top-2 margin in the model's lowest decile (the quality benchmark's late-autumn user: 39%).
 */
export function ambiguousWorld(seed = 11, gap = 1.5, apart = 4): World {
  const world = new World({ seed, priors: [0.06, 0.06, 0.38, 0.3, 0.2] });
  const unit = () => {
    const v = Array.from({ length: world.dim }, () => world.gauss());
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  };
  const away = unit();
  const across = unit();
  world.means[0] = world.means[0].map((m, i) => m + apart * away[i]);
  world.means[1] = world.means[0].map((m, i) => m + gap * across[i]);
  return world;
}

/** A person whose questions are all about the ambiguous topic: real records of classes 0 and 1 only. */
export function ambiguousTopic(world: World, key: string, times: number[]): InferenceEvent[] {
  return times.map((t) => world.event(key, world.record(world.pick([0, 1])), t));
}
