import type { NaturalSampler } from '../NaturalSampler.ts';
import type { Rng } from '../Rng.ts';
import type { Standardizer } from '../Standardizer.ts';
import type { Actor, KeyIdentity, QueryApi } from '../world/types.ts';

/**
 * What every benign population member shares: one key, natural records to
 * draw from, the victim's standardizer, its own random stream and the
 * simulated interval [start, end). Subclasses name their population and
 * say how they call the API in `run`.
 */
export abstract class BenignActor implements Actor {
  readonly kind = 'benign';
  abstract readonly population: string;
  readonly keys: KeyIdentity[];

  constructor(
    readonly id: string,
    key: KeyIdentity,
    protected readonly natural: NaturalSampler,
    protected readonly standardizer: Standardizer,
    protected readonly rng: Rng,
    protected readonly start: number,
    protected readonly end: number,
  ) {
    this.keys = [key];
  }

  abstract run(api: QueryApi): Promise<void>;
}
