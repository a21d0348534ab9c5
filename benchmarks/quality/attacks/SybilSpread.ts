import { Client } from '../world/Client.ts';
import { MINUTE, SECOND, scriptedTimes } from '../world/Schedule.ts';
import type { Answer, KeyIdentity, QueryApi } from '../world/types.ts';
import { type Attack, type AttackSetup, attackerKey, uniformInBox } from './Attack.ts';

/**
 * A Sybil campaign: the Tramèr et al. 2016 random-query attack split over
 * many free-tier keys (one tenant each) from addresses in one /24, every key
 * running in parallel at a modest scripted pace, so each key alone stays
 * small. One surrogate is trained on the union of the answers. A call the
 * gateway refuses with 429 is resent from the same key after its
 * Retry-After (the keys interleaved in time); a key refused with 403 is
 * dropped.
 */
export class SybilSpread implements Attack {
  readonly kind = 'attack';
  readonly uses = 'probabilities';
  readonly algorithm = 'Tramèr et al. 2016 random queries split over many keys in one /24, probabilities';
  readonly pace: string;
  readonly keys: KeyIdentity[];

  constructor(
    private readonly setup: AttackSetup,
    keyCount: number,
    private readonly perMinute = 30,
    readonly id = 'sybil',
    readonly population = 'Sybil (one /24)',
  ) {
    this.keys = Array.from({ length: keyCount }, (_, i) => attackerKey(`sybil-${String(i).padStart(2, '0')}`, `198.19.7.${10 + i}`));
    this.pace = `${keyCount} keys × ${perMinute}/min in parallel`;
  }

  async run(api: QueryApi): Promise<void> {
    const { rng, world, budget, start } = this.setup;
    const per = Math.floor(budget / this.keys.length);
    // Every key's calls on its own schedule, merged in time order.
    const calls = this.keys.flatMap((key, k) => {
      const begin = start + rng.uniform(0, 10 * MINUTE);
      return scriptedTimes(rng, begin, per + (k < budget % this.keys.length ? 1 : 0), this.perMinute).map((ts) => ({ key, ts, x: uniformInBox(rng, world.box) }));
    });
    calls.sort((a, b) => a.ts - b.ts || a.key.apiKey.localeCompare(b.key.apiKey));
    const clients = new Map(this.keys.map((k) => [k.apiKey, new Client(api, k, start)]));
    const retry = new Map<KeyIdentity, { xs: number[][]; at: number }>();
    const blocked = new Set<KeyIdentity>();
    const refused = (key: KeyIdentity, x: number[], ts: number, answer: Answer) => {
      if (answer.status === 403) {
        blocked.add(key);
        retry.delete(key);
        return;
      }
      const queue = retry.get(key) ?? { xs: [], at: 0 };
      queue.xs.push(x);
      queue.at = Math.max(queue.at, ts + (answer.retryAfterS ?? 60) * SECOND);
      retry.set(key, queue);
    };
    // One request per run of consecutive calls from the same key (the world takes one key per request).
    let now = start;
    for (let i = 0; i < calls.length; ) {
      let j = i + 1;
      while (j < calls.length && calls[j].key === calls[i].key) j++;
      const run = calls.slice(i, j);
      i = j;
      if (blocked.has(run[0].key)) continue;
      const answers = await clients.get(run[0].key.apiKey)!.at(run.map((c) => c.x), run.map((c) => c.ts));
      now = run[run.length - 1].ts;
      answers.forEach((a, k) => a.status >= 400 && refused(run[k].key, run[k].x, run[k].ts, a));
    }
    // Resend refused calls, one at a time, the key whose Retry-After ends first going next.
    while (retry.size > 0) {
      const [key, queue] = [...retry].reduce((a, b) => (b[1].at < a[1].at ? b : a));
      const ts = Math.round(Math.max(queue.at, now));
      const x = queue.xs.shift()!;
      const [answer] = await clients.get(key.apiKey)!.at([x], [ts]);
      now = ts;
      if (answer.status >= 400) {
        refused(key, x, ts, answer);
        continue;
      }
      queue.at = ts + (MINUTE / this.perMinute) * rng.uniform(0.7, 1.3);
      if (queue.xs.length === 0) retry.delete(key);
    }
  }
}
