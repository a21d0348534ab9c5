import { z } from 'zod';
import { type MemberStatistic, ModelReference, type TailSide } from '../../src/baselines/ModelReference.ts';
import type { Neighbourhood } from '../../src/baselines/NeighbourIndex.ts';
import { referenceHash } from '../../src/baselines/referenceHash.ts';
import type { Tail } from './TailBaseline.ts';

/** Config of the region-conditional expected tail share, in a detector's schema under `local`. */
export const localTailSchema = z
  .object({
    /**
     * Judge each answer against the model's traffic near its query (true) or against the model-wide share
     * alone (false). Off, a person whose questions all fall where the model is unsure (an ambiguous season,
     * a borderline applicant) looks like an active-learning attacker.
     */
    enabled: z.boolean().default(true),
    /**
     * Neighbours of a query whose answers vote: the `k` nearest members of the model's reference within
     * `radius` × its median nearest-member distance, and, for each of the `k` missing there, the
     * model-wide share. A query amid the model's traffic is judged by its neighbours alone; one far from it
     * (synthetic probing) finds few or none and is judged by the model-wide share.
     */
    k: z.number().int().min(1).max(256).default(16),
    radius: z.number().gt(0).default(3),
  })
  .strict()
  .prefault({});
export type LocalTailConfig = z.output<typeof localTailSchema>;

/**
 * The share of answers in a tail that the model's own traffic gets near a
 * query, read from the model's shared reference (`ctx.reference`): a key's
 * tail share (small margins, high entropies) is compared with the average
 * of these instead of with the model-wide share, so a key is flagged for
 * asking where the model is unsure *more often than the model's traffic in
 * the same region is answered unsurely*. A person whose topic is ambiguous
 * meets that null hypothesis; an active-learning attacker does not:
 * uncertainty sampling (Pal et al., "ActiveThief", AAAI 2020) and line
 * searches (Lowd & Meek, KDD 2005) pick the inputs closest to a decision
 * boundary, a thin set that natural records near the same inputs mostly
 * miss. A key's own answers are left out, so no key vouches for itself.
 *
 * One per detector; its neighbourhood buffer is reused by the next query.
 */
export class LocalTail {
  private readonly nb: Neighbourhood;

  constructor(private readonly c: LocalTailConfig) {
    this.nb = ModelReference.neighbourhood(c.k);
  }

  /** The key's owner id as the reference records it. */
  static owner(key: string): number {
    return referenceHash(key);
  }

  /** Whether answers are judged locally against `ref` (enabled and the reference ready). */
  active(ref: ModelReference | null): ref is ModelReference {
    return this.c.enabled && ref !== null && ref.ready;
  }

  /** The query's neighbourhood among other keys' members (null: judged model-wide). */
  neighbours(ref: ModelReference | null, sketch: readonly number[], owner: number): Neighbourhood | null {
    return this.active(ref) ? ref.neighbours(sketch, this.c.k, this.c.radius, owner, this.nb) : null;
  }

  /** Expected probability that the answer to the query of `nb` lies in `tail` of `stat`; the model-wide share without a neighbourhood. */
  expected(ref: ModelReference | null, nb: Neighbourhood | null, stat: MemberStatistic, tail: Tail, side: TailSide): number {
    if (!nb || !ref) return tail.expected;
    return ref.expectedTailShare(nb, stat, tail.threshold, side, this.c.k, tail.expected);
  }
}
