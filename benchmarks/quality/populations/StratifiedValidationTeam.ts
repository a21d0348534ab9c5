import type { Rng } from '../Rng.ts';
import { Client } from '../world/Client.ts';
import { DAY, HOUR, MINUTE } from '../world/Schedule.ts';
import type { QueryApi } from '../world/types.ts';
import { BenignActor } from './BenignActor.ts';

/**
 * A class-stratified evaluation set: `perClass` distinct records of every
 * class present (fewer when a class has fewer records, so the counts stay
 * equal), in one fixed shuffled order.
 */
export function stratifiedSet<R extends { label: number }>(records: readonly R[], perClass: number, rng: Rng): R[] {
  const byClass = new Map<number, R[]>();
  for (const r of records) {
    let list = byClass.get(r.label);
    if (!list) byClass.set(r.label, (list = []));
    list.push(r);
  }
  const n = Math.min(perClass, ...[...byClass.values()].map((l) => l.length));
  const labels = [...byClass.keys()].sort((a, b) => a - b);
  return rng.shuffled(labels.flatMap((label) => rng.shuffled(byClass.get(label)!).slice(0, n)));
}

/**
 * A validation team checking the model per class, as model-evaluation
 * practice asks for imbalanced problems: it holds a class-stratified
 * evaluation set of natural records (30–80 per class, equal counts) and
 * sends the whole set twice a day, a morning and an afternoon run, each as
 * one batch at a scripted pace under the limit. The set does not change
 * between runs.
 */
export class StratifiedValidationTeam extends BenignActor {
  readonly population = 'stratified validation teams';

  async run(api: QueryApi): Promise<void> {
    const rng = this.rng;
    const set = stratifiedSet(this.natural.records, rng.int(30, 80), rng).map((r) => this.standardizer.apply(r.raw));
    const perMinute = rng.uniform(60, 90);
    const runs = [rng.uniform(8, 10), rng.uniform(14, 16)];
    const client = new Client(api, this.keys[0], this.start);
    for (let day = this.start; day < this.end; day += DAY) {
      for (const hour of runs) {
        const at = day + hour * HOUR + rng.uniform(0, 10 * MINUTE);
        if (at >= this.end) return;
        client.t = Math.max(client.t, at);
        await client.scripted(set, perMinute, rng);
      }
    }
  }
}
