import { Client } from '../world/Client.ts';
import type { QueryApi } from '../world/types.ts';
import { BenignActor } from './BenignActor.ts';
import { interactiveHabits, officeSessions } from './OfficeSessions.ts';

/** The least frequent label among `records` (ties: the lowest index). */
export function rarestClass(records: readonly { label: number }[]): number {
  const counts = new Map<number, number>();
  for (const r of records) counts.set(r.label, (counts.get(r.label) ?? 0) + 1);
  let best = -1;
  for (const [label, n] of counts) if (best < 0 || n < counts.get(best)! || (n === counts.get(best)! && label < best)) best = label;
  if (best < 0) throw new RangeError('rarestClass needs records');
  return best;
}

/**
 * A fraud analyst: the cases they look at are the ones already suspected,
 * so their queries sit in the model's rarest class. Each case is a natural
 * record of that class (80–95% of cases; the rest are look-alikes that turn
 * out ordinary, drawn from every class), worked through in office-hours
 * sessions with think times, and an earlier case is re-checked now and
 * then (15%).
 */
export class MinorityClassAnalyst extends BenignActor {
  readonly population: string = 'minority-class analysts';

  async run(api: QueryApi): Promise<void> {
    const rng = this.rng;
    const rare = rarestClass(this.natural.records);
    const focus = rng.uniform(0.8, 0.95);
    const history: number[][] = [];
    const next = () => {
      if (history.length > 0 && rng.bernoulli(0.15)) return rng.pick(history);
      const raw = rng.bernoulli(focus) ? this.natural.sample(rng, (r) => r.label === rare) : this.natural.sample(rng);
      const x = this.standardizer.apply(raw);
      history.push(x);
      return x;
    };
    await officeSessions(new Client(api, this.keys[0], this.start), rng, interactiveHabits(rng), this.end, next);
  }
}
