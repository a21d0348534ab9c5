import type { Box } from '../Victim.ts';
import { PatientClient } from './PatientClient.ts';
import type { QueryApi } from '../world/types.ts';
import { type Attack, type AttackSetup, attackerKey } from './Attack.ts';

/**
 * Levels per feature of the largest full-factorial lattice within `budget`
 * points: equal levels, then one more level on the first features while the
 * product still fits. When even two levels on every feature exceed the
 * budget (wide inputs), the grid spans the first features at three levels
 * and holds the others at the centre of their range (one level).
 */
export function latticeLevels(dims: number, budget: number): number[] {
  let levels: number[];
  if (2 ** dims > budget) {
    const swept = Math.min(dims, Math.max(1, Math.floor(Math.log(budget) / Math.log(3))));
    levels = Array.from({ length: dims }, (_, j) => (j < swept ? 3 : 1));
  } else {
    let k = 2;
    while ((k + 1) ** dims <= budget) k++;
    levels = new Array<number>(dims).fill(k);
  }
  const size = () => levels.reduce((a, b) => a * b, 1);
  for (let grew = true; grew; ) {
    grew = false;
    for (let j = 0; j < dims; j++) {
      levels[j]++;
      if (size() <= budget) grew = true;
      else levels[j]--;
    }
  }
  return levels;
}

/** Lattice points at cell centres, in odometer order (the last feature steps fastest). */
export function latticePoints(box: Box, levels: readonly number[]): number[][] {
  const total = levels.reduce((a, b) => a * b, 1);
  const out: number[][] = [];
  const idx = new Array<number>(levels.length).fill(0);
  for (let n = 0; n < total; n++) {
    out.push(idx.map((i, j) => box.lo[j] + ((i + 0.5) / levels[j]) * (box.hi[j] - box.lo[j])));
    for (let j = levels.length - 1; j >= 0; j--) {
      if (++idx[j] < levels[j]) break;
      idx[j] = 0;
    }
  }
  return out;
}

/**
 * A lattice sweep: the full-factorial grid over the documented feature
 * ranges, walked in nested-loop order by a script just under the per-minute
 * limit — the systematic exploration PRADA (Juuti et al. 2019) was built to
 * catch. The surrogate fits the probabilities returned on the grid.
 */
export class LatticeSweep implements Attack {
  readonly kind = 'attack';
  readonly uses = 'probabilities';
  readonly algorithm = 'full-factorial lattice over the feature ranges, nested-loop order, probabilities';
  readonly pace: string;
  readonly keys;

  constructor(
    private readonly setup: AttackSetup,
    readonly id = 'lattice',
    readonly population = 'lattice sweep',
    private readonly perMinute = 95,
  ) {
    this.keys = [attackerKey(id, '198.18.2.10')];
    this.pace = `${perMinute}/min scripted`;
  }

  async run(api: QueryApi): Promise<void> {
    const { rng, world, budget, start } = this.setup;
    const client = new PatientClient(api, this.keys[0], start);
    const xs = latticePoints(world.box, latticeLevels(world.box.lo.length, budget));
    for (let i = 0; i < xs.length; i += 100) await client.scripted(xs.slice(i, i + 100), this.perMinute, rng);
  }
}
