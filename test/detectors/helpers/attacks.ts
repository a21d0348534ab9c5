import type { InferenceEvent } from '../../../src/contract.ts';
import type { World } from './world.ts';

function margin(p: number[]): number {
  const s = [...p].sort((a, b) => b - a);
  return s[0] - s[1];
}

function argmax(p: number[]): number {
  return p.indexOf(Math.max(...p));
}

/**
 * Margin (uncertainty) sampling, as active-learning extraction does: from a
 * pool of real-looking candidates, query the one the model is least sure of.
 */
export function marginSampler(world: World, key: string, times: number[], pool = 16, extra: { tenant?: string; clientIp?: string } = {}): InferenceEvent[] {
  return times.map((t) => {
    let best: number[] = [];
    let bestMargin = Infinity;
    for (let k = 0; k < pool; k++) {
      const a = world.sampleClass();
      const b = world.sampleClass();
      const mix = world.uniform();
      const x = world.record(a).map((v, i) => (1 - mix) * v + mix * world.means[b][i]);
      const m = margin(world.probs(x));
      if (m < bestMargin) {
        bestMargin = m;
        best = x;
      }
    }
    return world.event(key, best, t, extra);
  });
}

/**
 * Lowd & Meek line searches: between a real record of one class and one of
 * another, query the midpoint and keep the half whose ends disagree, for
 * `halvings` steps; `searches` searches in a row.
 */
export function lineSearches(world: World, key: string, searches: number, halvings: number, times: number[]): InferenceEvent[] {
  const out: InferenceEvent[] = [];
  let k = 0;
  for (let s = 0; s < searches; s++) {
    const a = world.sampleClass();
    let b = world.sampleClass();
    if (b === a) b = (a + 1) % world.classes;
    let pos = world.record(a);
    let neg = world.record(b);
    const la = argmax(world.probs(pos));
    out.push(world.event(key, pos, times[k++]));
    out.push(world.event(key, neg, times[k++]));
    for (let h = 0; h < halvings && k < times.length; h++) {
      const mid = pos.map((v, i) => (v + neg[i]) / 2);
      out.push(world.event(key, mid, times[k++]));
      if (argmax(world.probs(mid)) === la) pos = mid;
      else neg = mid;
    }
    if (k >= times.length - 2) break;
  }
  return out;
}

/** Queries drawn uniformly from a box around the data (random, off-manifold probing). */
export function uniformBox(world: World, key: string, times: number[], half = 5, extra: { tenant?: string; clientIp?: string } = {}): InferenceEvent[] {
  return times.map((t) => world.event(key, Array.from({ length: world.dim }, () => (2 * world.uniform() - 1) * half), t, extra));
}

/**
 * Knockoff-style adaptive sampling (Orekondy et al., CVPR 2019): real-looking
 * inputs, each drawn from the class the attacker has got back least so far,
 * so the answers cover every class about equally.
 */
export function balancedClasses(world: World, key: string, times: number[], extra: { tenant?: string; clientIp?: string } = {}): InferenceEvent[] {
  const got = new Array(world.classes).fill(0);
  return times.map((t) => {
    const least = Math.min(...got);
    const candidates = got.flatMap((v, c) => (v === least ? [c] : []));
    const e = world.event(key, world.record(world.pick(candidates)), t, extra);
    got[e.output_label]++;
    return e;
  });
}

/**
 * Natural records of another data set of the same schema (Knockoff Nets' and ActiveThief's transfer
 * sets): the deployment's own kind of records under a covariate shift — each feature of `shifted` moved by
 * `by` spreads, as another city's weather is warmer or wetter — answered by the model.
 */
export function otherDataSet(world: World, key: string, times: number[], shifted: readonly number[], by: number): InferenceEvent[] {
  return times.map((t) => world.event(key, world.record().map((v, i) => (shifted.includes(i) ? v + by * world.sigma : v)), t));
}

/**
 * Papernot et al.'s Jacobian-based augmentation in outline (AsiaCCS 2017): `seeds` real records, then
 * rounds in which every query so far is stepped by λ in every raw feature (λ a tenth of the feature's
 * range over the seeds), each in the sign of the direction towards another class's mean — a
 * substitute's Jacobian sign for the class it would cross to.
 */
export function jacobianSteps(world: World, key: string, times: number[], seeds = 50): InferenceEvent[] {
  const xs: number[][] = Array.from({ length: Math.min(seeds, times.length) }, () => world.record());
  const range = Array.from({ length: world.dim }, (_, j) => {
    const v = xs.map((x) => x[j]);
    return Math.max(...v) - Math.min(...v);
  });
  for (let round = 0; xs.length < times.length; round++) {
    const fresh = xs.map((x, i) => {
      const target = world.means[(i + round + 1) % world.classes];
      return x.map((v, j) => v + 0.1 * range[j] * Math.sign(target[j] - v || 1));
    });
    xs.push(...fresh.slice(0, times.length - xs.length));
  }
  return xs.map((x, i) => world.event(key, x, times[i]));
}
