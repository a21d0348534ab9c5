import * as tf from '@tensorflow/tfjs';
import type { Attack, SurrogateSpec } from '../attacks/Attack.ts';
import { agreementOf, unprotectedAgreement } from '../Measure.ts';
import type { VictimWorld } from '../Victim.ts';
import type { WorldRecord } from '../world/World.ts';

/** The stolen copies of one world: each attack campaign's surrogate agreement, and what guessing achieves. */
export interface WorldSurrogates {
  /** Top-1 agreement with the victim on held-out data, by attack population. */
  agreement: Map<string, number>;
  /** Agreement of always answering the victim's most frequent held-out class. */
  chanceFloor: number;
  seconds: number;
}

/**
 * Trains every attack campaign's surrogate on the model's answers to its
 * calls (`answers: 'model'`, `bench:quality`'s `unprotectedAgreement`) or on
 * the answers the gateway returned it (`'received'`: under responses, the
 * truncated and deceived ones; refused calls teach nothing), seed `seed + 17`,
 * and scores it against the victim on the world's held-out rows. Models
 * train on the tfjs cpu backend, as the victims do.
 */
export async function worldSurrogates(record: WorldRecord, world: VictimWorld, surrogate: SurrogateSpec, seed: number, answers: 'model' | 'received' = 'model'): Promise<WorldSurrogates> {
  const started = performance.now();
  await tf.setBackend('cpu');
  const ctx = { world, surrogate, seed };
  const agreement = new Map<string, number>();
  const attacks = record.actors.filter((r) => r.actor.kind === 'attack');
  for (const population of new Set(attacks.map((r) => r.actor.population))) {
    const campaign = attacks.filter((r) => r.actor.population === population);
    const exchanges = campaign.flatMap((r) => r.exchanges);
    const attack = campaign[0].actor as Attack;
    agreement.set(population, answers === 'model' ? unprotectedAgreement(exchanges, attack, ctx) : agreementOf(exchanges, attack, ctx));
  }
  return { agreement, chanceFloor: world.majorityAgreement, seconds: (performance.now() - started) / 1000 };
}
