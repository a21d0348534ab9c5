import { officeSessions, type SessionHabits } from '../populations/OfficeSessions.ts';
import type { Rng } from '../Rng.ts';
import { SECOND } from '../world/Schedule.ts';
import type { QueryApi } from '../world/types.ts';
import { type Attack, type AttackSetup, attackerKey } from './Attack.ts';
import { PatientClient } from './PatientClient.ts';
import { RawSpace } from './RawSpace.ts';

/** A person who works long sessions: office hours on weekdays, 3–5 sessions a day of about 60 calls, 12 s apart. */
export function diligentHabits(rng: Rng): SessionHabits {
  const open = rng.uniform(8, 9.5);
  return { open, close: open + 8, sessionsPerDay: rng.uniform(3, 5), medianCalls: 60, maxCalls: 200, thinkMs: 12 * SECOND };
}

/**
 * A patient thief who looks like a person: it sends its stolen natural
 * records (the attacker's own real rows, each once) mixed with jittered
 * copies of records already sent — synthetic samples made by randomly
 * perturbing natural seeds, as in the T-RND attack of Juuti et al.,
 * "PRADA: Protecting Against DNN Model Stealing Attacks" (EuroS&P 2019) —
 * each copy moving every raw feature by a Gaussian of `jitter` times that
 * feature's spread, rounded to the feature's resolution. It paces itself
 * like a person in office hours (weekday sessions, think times; see
 * `officeSessions`) and honours every throttle (`PatientClient`). Stops at
 * the budget or at `end`. The surrogate learns from the probabilities.
 */
export class OfficeHoursThief implements Attack {
  readonly kind = 'attack';
  readonly uses = 'probabilities';
  readonly algorithm = 'stolen natural records mixed 1:1 with jittered copies (T-RND-style, Juuti et al. 2019), paced like a person in office hours, probabilities';
  readonly pace = 'office hours on weekdays, sessions of ~60 calls ~12 s apart';
  readonly keys;

  constructor(
    private readonly setup: AttackSetup,
    /** Event time after which the thief stops (the end of the simulated span). */
    private readonly end: number,
    private readonly copyShare = 0.5,
    private readonly jitter = 0.1,
    readonly id = 'office-thief',
    readonly population = 'office-hours thief',
    ip = '198.18.12.10',
  ) {
    this.keys = [attackerKey(id, ip)];
  }

  async run(api: QueryApi): Promise<void> {
    const { rng, world, budget, start } = this.setup;
    const space = new RawSpace(world);
    const stolen = rng.shuffled(world.attackerSeed).map((r) => space.snap(r.raw));
    const spread = space.lo.map((_, j) => {
      const v = stolen.map((r) => r[j]);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      return Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
    });
    const sent: number[][] = [];
    const next = () => {
      let raw: number[];
      if (sent.length > 0 && (sent.length >= stolen.length || rng.bernoulli(this.copyShare))) {
        const parent = rng.pick(sent);
        raw = space.snap(parent.map((v, j) => v + this.jitter * spread[j] * rng.normal()));
      } else {
        raw = stolen[sent.length];
        sent.push(raw);
      }
      return space.toModel(raw);
    };
    const client = new PatientClient(api, this.keys[0], start);
    await officeSessions(client, rng, diligentHabits(rng), this.end, next, budget);
  }
}
