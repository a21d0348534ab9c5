import type { Rng } from '../Rng.ts';
import { SECOND } from '../world/Schedule.ts';
import type { Answer, KeyIdentity, QueryApi } from '../world/types.ts';
import { type Attack, type AttackSetup, attackerKey } from './Attack.ts';

/**
 * The API as a rotating campaign sees it: every call goes out from the
 * current key until that key has made its quota, then from the next fresh
 * key. A refusal (429 or 403) on any key but the last makes the attacker
 * sign up again at once: the refused calls (the others of the request were
 * answered) are resent from the next key after a pause, and the campaign's
 * later calls shift by the same delay.
 * The last key keeps the rest and passes refusals on to the campaign.
 */
class RotatingApi implements QueryApi {
  private k = 0;
  private used = 0;
  /** Delay added to the campaign's own call times by sign-ups after refusals. */
  private lag = 0;
  private last = -Infinity;

  constructor(
    private readonly api: QueryApi,
    private readonly keys: readonly KeyIdentity[],
    private readonly quotas: readonly number[],
    private readonly rng: Rng,
  ) {}

  async query(_key: KeyIdentity, xs: readonly number[][], times: readonly number[]): Promise<Answer[]> {
    const out = new Array<Answer>(xs.length);
    // Indices of the calls still to be answered, in the campaign's order.
    let pending = xs.map((_, i) => i);
    while (pending.length > 0) {
      const lastKey = this.k === this.keys.length - 1;
      const take = lastKey ? pending : pending.slice(0, this.quotas[this.k] - this.used);
      const ts = take.map((i) => (this.last = Math.max(this.last, Math.round(times[i] + this.lag))));
      const got = await this.api.query(this.keys[this.k], take.map((i) => xs[i]), ts);
      const refused: number[] = [];
      take.forEach((i, n) => (!lastKey && got[n].status >= 400 ? refused.push(i) : (out[i] = got[n])));
      this.used += take.length;
      pending = refused.concat(pending.slice(take.length));
      if (lastKey) continue;
      if (refused.length > 0) this.lag = this.last + this.rng.uniform(30 * SECOND, 180 * SECOND) - times[refused[0]];
      if (refused.length > 0 || this.used >= this.quotas[this.k]) {
        this.k++;
        this.used = 0;
      }
    }
    return out;
  }
}

/**
 * Key rotation around an extraction campaign: the campaign (any attack,
 * e.g. an active learner or Knockoff Nets) runs unchanged, but its calls
 * go out from a fresh API key every N queries, N drawn per key (150–300 by
 * default), and at once after any refusal — per-key accounting is what
 * detectors and rate limits keep, so each key shows only a slice of the
 * campaign (the "distributed"/multi-account adversary of Juuti et al.,
 * PRADA, EuroS&P 2019, §VI, and of Tramèr et al. 2016 §8 on rate limits).
 * Each key is its own free-tier tenant from its own hosting address. The
 * surrogate is the campaign's, trained on every answer of every key.
 */
export class KeyRotator implements Attack {
  readonly kind = 'attack';
  readonly uses;
  readonly algorithm: string;
  readonly pace: string;
  readonly keys: KeyIdentity[];
  /** Calls each key makes before the next one takes over (the last key takes the rest). */
  readonly quotas: number[];
  private readonly campaign: Attack;

  constructor(
    private readonly setup: AttackSetup,
    campaign: (setup: AttackSetup) => Attack,
    perKey: readonly [number, number] = [150, 300],
    readonly id = 'rotator',
    readonly population = 'key rotator',
  ) {
    this.campaign = campaign({ ...setup, rng: setup.rng.fork('campaign') });
    const rng = setup.rng.fork('quotas');
    this.quotas = [];
    for (let total = 0; total < setup.budget; ) {
      const n = rng.int(perKey[0], perKey[1]);
      this.quotas.push(n);
      total += n;
    }
    this.keys = this.quotas.map((_, k) => attackerKey(`${id}-${String(k).padStart(2, '0')}`, `198.20.${k % 250}.${rng.int(10, 250)}`));
    this.uses = this.campaign.uses;
    this.algorithm = `a fresh key every ${perKey[0]}–${perKey[1]} queries (and after any refusal) around: ${this.campaign.algorithm}`;
    this.pace = `${this.campaign.pace}, ${this.keys.length} keys in turn`;
  }

  async run(api: QueryApi): Promise<void> {
    await this.campaign.run(new RotatingApi(api, this.keys, this.quotas, this.setup.rng.fork('rotate')));
  }
}
