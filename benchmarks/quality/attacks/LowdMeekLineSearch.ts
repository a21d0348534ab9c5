import { PatientClient } from './PatientClient.ts';
import type { QueryApi } from '../world/types.ts';
import { type Attack, type AttackSetup, attackerKey, clipToBox, uniformInBox } from './Attack.ts';

interface Labelled {
  x: number[];
  label: number;
}

const lerp = (a: readonly number[], b: readonly number[], t: number) => a.map((v, j) => v + t * (b[j] - v));
const dist = (a: readonly number[], b: readonly number[]) => Math.sqrt(a.reduce((s, v, j) => s + (v - b[j]) ** 2, 0));

/**
 * Lowd & Meek, "Adversarial Learning" (KDD 2005), §4: with membership
 * queries only (top-1 labels), find a point pair on either side of the
 * decision boundary, locate the boundary by line search (bisection to ε),
 * then from the boundary point search along each feature axis (doubling,
 * then bisection) for the distance to the next label flip, which gives the
 * boundary's local weights. Repeated for random pairs of differently
 * labelled points, it maps the boundary between every pair of classes. The
 * surrogate is trained on every labelled query. One call at a time, since
 * each step depends on the last answer.
 */
export class LowdMeekLineSearch implements Attack {
  readonly kind = 'attack';
  readonly uses = 'labels';
  readonly algorithm = 'Lowd & Meek 2005 line search: bisection to the boundary, then per-feature searches, labels only';
  readonly pace: string;
  readonly keys;
  private used = 0;

  constructor(
    private readonly setup: AttackSetup,
    readonly id = 'lowd-meek',
    readonly population = 'Lowd–Meek line search',
    private readonly perMinute = 60,
    /** Bisection stops when the bracket is shorter than this (standardised units). */
    private readonly epsilon = 0.02,
  ) {
    this.keys = [attackerKey(id, '198.18.3.10')];
    this.pace = `${perMinute}/min, one call at a time`;
  }

  async run(api: QueryApi): Promise<void> {
    const { rng, world, budget, start } = this.setup;
    const client = new PatientClient(api, this.keys[0], start);
    const ask = async (x: number[]): Promise<number | undefined> => {
      if (this.used >= budget) return undefined;
      this.used++;
      const [a] = await client.scripted([x], this.perMinute, rng);
      return a.status >= 400 ? undefined : a.label;
    };
    const known: Labelled[] = [];
    const seedCount = Math.max(4, Math.min(20, Math.round(budget / 20)));
    for (let i = 0; i < seedCount; i++) {
      const x = uniformInBox(rng, world.box);
      const label = await ask(x);
      if (label !== undefined) known.push({ x, label });
    }
    while (this.used < budget) {
      const pair = this.differentPair(known);
      if (!pair) {
        const x = uniformInBox(rng, world.box);
        const label = await ask(x);
        if (label === undefined) continue;
        known.push({ x, label });
        continue;
      }
      const edge = await this.bisect(pair[0], pair[1], ask);
      if (!edge) break;
      known.push(edge.inside, edge.outside);
      // Per-feature line searches from the boundary point (Lowd & Meek §4, continuous features).
      for (let j = 0; j < world.box.lo.length && this.used < budget; j++) {
        const flip = await this.axisSearch(edge.inside, j, ask);
        if (flip) known.push(...flip);
      }
    }
  }

  private differentPair(known: readonly Labelled[]): [Labelled, Labelled] | undefined {
    const rng = this.setup.rng;
    for (let tries = 0; tries < 50 && known.length > 1; tries++) {
      const a = rng.pick(known);
      const b = rng.pick(known);
      if (a.label !== b.label && dist(a.x, b.x) > 2 * this.epsilon) return [a, b];
    }
    return undefined;
  }

  /** Bisection between two differently labelled points; the last bracket's ends. */
  private async bisect(a: Labelled, b: Labelled, ask: (x: number[]) => Promise<number | undefined>) {
    let inside = a;
    let outside = b;
    while (dist(inside.x, outside.x) > this.epsilon) {
      const m = lerp(inside.x, outside.x, 0.5);
      const label = await ask(m);
      if (label === undefined) return undefined;
      if (label === inside.label) inside = { x: m, label };
      else outside = { x: m, label };
    }
    return { inside, outside };
  }

  /** From a boundary point, along ±feature j: double the step until the label flips, then bisect. */
  private async axisSearch(from: Labelled, j: number, ask: (x: number[]) => Promise<number | undefined>): Promise<Labelled[] | undefined> {
    const box = this.setup.world.box;
    const range = box.hi[j] - box.lo[j];
    for (const dir of [1, -1]) {
      let step = 2 * this.epsilon;
      let last: Labelled = from;
      while (step <= range) {
        const x = clipToBox(from.x.map((v, i) => (i === j ? v + dir * step : v)), box);
        const label = await ask(x);
        if (label === undefined) return undefined;
        if (label !== from.label) {
          const edge = await this.bisect(last, { x, label }, ask);
          return edge ? [edge.inside, edge.outside] : [{ x, label }];
        }
        last = { x, label };
        if (x[j] === box.hi[j] || x[j] === box.lo[j]) break;
        step *= 2;
      }
    }
    return undefined;
  }
}
