import type { InferenceEvent } from '../../../src/contract.ts';
import { ATTACK_START } from './scenario.ts';
import { humanTimes, type World } from './world.ts';

const argmax = (p: number[]) => p.indexOf(Math.max(...p));

/**
 * What-if sweeps that straddle a class boundary: a real record, the one feature along which its predicted
 * class flips nearest, and `steps` even steps of that feature across the flip (±`half` around it).
 */
export function boundarySweeps(world: World, sweeps: number, steps: number, half = 0.6): number[][] {
  const out: number[][] = [];
  while (out.length < sweeps * steps) {
    const base = world.record();
    const cls = argmax(world.probs(base));
    let best: { f: number; at: number } | null = null;
    for (let f = 0; f < world.dim; f++) {
      for (const dir of [-1, 1]) {
        const at = (d: number) => base.map((v, i) => (i === f ? v + dir * d : v));
        if (argmax(world.probs(at(6))) === cls) continue;
        let lo = 0;
        let hi = 6;
        for (let k = 0; k < 30; k++) {
          const mid = (lo + hi) / 2;
          if (argmax(world.probs(at(mid))) === cls) lo = mid;
          else hi = mid;
        }
        if (!best || lo < Math.abs(best.at - base[f])) best = { f, at: base[f] + dir * lo };
      }
    }
    if (!best) continue;
    for (let s = 0; s < steps; s++) out.push(base.map((v, i) => (i === best.f ? best.at - half + (2 * half * s) / (steps - 1) : v)));
  }
  return out;
}

/**
 * Two keys sending the same 14 sweeps of 30 even steps across a class boundary at a person's pace:
 * `nat-sweeps` in order, `nat-sweeps-shuffled` in a random order, so that no step continues the one
 * before and every uncertain answer counts (the control).
 */
export function sweepsAndShuffled(world: World): { sweeps: InferenceEvent[]; shuffled: InferenceEvent[] } {
  const xs = boundarySweeps(world, 14, 30);
  const times = humanTimes(world, xs.length, ATTACK_START, 20_000);
  const order = xs.map((_, i) => i).sort(() => world.uniform() - 0.5);
  return {
    sweeps: times.map((t, i) => world.event('nat-sweeps', xs[i], t)),
    shuffled: times.map((t, i) => world.event('nat-sweeps-shuffled', xs[order[i]], t)),
  };
}
