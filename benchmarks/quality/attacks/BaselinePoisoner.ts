import type { Rng } from '../Rng.ts';
import { Client } from '../world/Client.ts';
import { scriptedTimes } from '../world/Schedule.ts';
import type { KeyIdentity, QueryApi } from '../world/types.ts';
import { type Attack, type AttackSetup, attackerKey, uniformInBox } from './Attack.ts';

/** A public-looking address outside the benchmark's benign (10/8) and attacker (198.18/15) ranges. */
function randomAddress(rng: Rng): string {
  let a: number;
  do a = rng.int(11, 223);
  while (a === 127 || a === 198 || a === 172 || a === 192 || a === 169 || a === 100);
  return `${a}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
}

/**
 * Baseline poisoning ahead of an extraction campaign: detectors that judge
 * a key against "the model's normal traffic" learn that reference from the
 * traffic itself, so an attacker first sends the kind of queries the
 * campaign will make (uniform random points, as in Tramèr et al. 2016)
 * from many short-lived keys — each its own free-tier tenant on its own
 * network, a few dozen calls over a few minutes, then never seen again —
 * spread over the window before the campaign, so that random inputs become
 * part of what looks normal. The same boiling-frog idea as poisoning an
 * anomaly detector's training data (Rubinstein et al., "ANTIDOTE", IMC
 * 2009; Kloft & Laskov, AISTATS 2010). The campaign that follows runs as
 * its own attack (e.g. `TramerEquationSolving`); these keys are attack keys
 * too. Calls the gateway refuses are not resent: a refused key is dropped.
 */
export class BaselinePoisoner implements Attack {
  readonly kind = 'attack';
  readonly uses = 'probabilities';
  readonly algorithm = 'baseline poisoning: uniform random queries from many short-lived keys on many networks before the campaign';
  readonly pace: string;
  readonly keys: KeyIdentity[];
  private readonly plan: { key: KeyIdentity; begin: number; calls: number; perMinute: number }[];

  constructor(
    private readonly setup: AttackSetup,
    keyCount: number,
    /** Length of the poisoning window, from `setup.start`. */
    private readonly windowMs: number,
    /** Calls per key, drawn uniformly in this range. */
    private readonly callsPerKey: readonly [number, number] = [20, 60],
    /** Scripted pace of each key, drawn uniformly in this range (calls/min). */
    private readonly perMinute: readonly [number, number] = [10, 30],
    readonly id = 'poisoner',
    readonly population = 'baseline poisoner',
  ) {
    const rng = setup.rng.fork('plan');
    this.plan = Array.from({ length: keyCount }, (_, i) => ({
      key: attackerKey(`${id}-${String(i).padStart(2, '0')}`, randomAddress(rng)),
      begin: setup.start + rng.uniform(0, 0.9) * windowMs,
      calls: rng.int(callsPerKey[0], callsPerKey[1]),
      perMinute: rng.uniform(perMinute[0], perMinute[1]),
    }));
    this.keys = this.plan.map((p) => p.key);
    this.pace = `${keyCount} keys × ${callsPerKey[0]}–${callsPerKey[1]} calls at ${perMinute[0]}–${perMinute[1]}/min within ${Math.round(windowMs / 3_600_000)} h`;
  }

  /** Calls the plan makes (before any refusal). */
  get calls(): number {
    return this.plan.reduce((s, p) => s + p.calls, 0);
  }

  async run(api: QueryApi): Promise<void> {
    const { rng, world, start } = this.setup;
    const calls = this.plan.flatMap((p) => scriptedTimes(rng, p.begin, p.calls, p.perMinute).map((ts) => ({ key: p.key, ts, x: uniformInBox(rng, world.box) })));
    calls.sort((a, b) => a.ts - b.ts || a.key.apiKey.localeCompare(b.key.apiKey));
    const clients = new Map(this.keys.map((k) => [k.apiKey, new Client(api, k, start)]));
    const refused = new Set<string>();
    // One request per run of consecutive calls from the same key (the world takes one key per request).
    for (let i = 0; i < calls.length; ) {
      let j = i + 1;
      while (j < calls.length && calls[j].key === calls[i].key) j++;
      const run = calls.slice(i, j);
      i = j;
      const key = run[0].key.apiKey;
      if (refused.has(key)) continue;
      const answers = await clients.get(key)!.at(run.map((c) => c.x), run.map((c) => c.ts));
      if (answers.some((a) => a.status >= 400)) refused.add(key);
    }
  }
}
