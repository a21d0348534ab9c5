import { PatientClient } from './PatientClient.ts';
import type { QueryApi } from '../world/types.ts';
import { type Attack, type AttackSetup, attackerKey, uniformInBox } from './Attack.ts';

/**
 * The Tramèr et al. 2016 random-query attack (see `TramerEquationSolving`)
 * run slow and low: a Poisson trickle far under every rate limit, around
 * the clock for the whole simulated span, so no window ever looks busy.
 */
export class SlowAndLow implements Attack {
  readonly kind = 'attack';
  readonly uses = 'probabilities';
  readonly algorithm = 'Tramèr et al. 2016 random queries as a Poisson trickle over several days, probabilities';
  readonly pace: string;
  readonly keys;

  constructor(
    private readonly setup: AttackSetup,
    /** How long the trickle lasts (the simulated span). */
    private readonly spanMs: number,
    private readonly perHour = 25,
    readonly id = 'slow-low',
    readonly population = 'slow-and-low',
  ) {
    this.keys = [attackerKey(id, '198.18.7.10')];
    this.pace = `~${perHour}/h Poisson, around the clock, ${Math.round(spanMs / 86_400_000)} days`;
  }

  /** Calls it will make: the budget, or fewer if the span cannot hold it at this rate. */
  get calls(): number {
    return Math.min(this.setup.budget, Math.floor((this.perHour * this.spanMs) / 3_600_000 * 0.95));
  }

  async run(api: QueryApi): Promise<void> {
    const { rng, world, start } = this.setup;
    const client = new PatientClient(api, this.keys[0], start);
    const xs = Array.from({ length: this.calls }, () => uniformInBox(rng, world.box));
    for (let i = 0; i < xs.length; i += 50) await client.poisson(xs.slice(i, i + 50), this.perHour, rng);
  }
}
