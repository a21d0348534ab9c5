import type { Rng } from '../Rng.ts';
import { Client } from '../world/Client.ts';
import { SECOND } from '../world/Schedule.ts';
import type { Answer } from '../world/types.ts';

/** Wait after a 429 that carried no Retry-After. */
const DEFAULT_RETRY_S = 60;

/**
 * An attacker's client that honours the gateway's throttle, as a patient
 * extraction script does: calls go out as planned until the first 429;
 * the refused calls are then resent one at a time, each after the
 * Retry-After of the last refusal, and from then on every call is sent
 * singly and resent after its Retry-After until answered. A 403 ends the
 * key's campaign: the remaining calls are not sent and come back refused.
 * So a throttle costs the attacker time, not queries — the surrogate is
 * spoiled only by what the answers contain. Without refusals it behaves
 * exactly like `Client`.
 */
export class PatientClient extends Client {
  private throttled = false;
  /** Set once the key is blocked (403). */
  blocked = false;

  override async scripted(xs: readonly number[][], perMinute: number, rng: Rng): Promise<Answer[]> {
    if (this.throttled || this.blocked) return this.oneByOne(xs, (x) => super.scripted([x], perMinute, rng));
    return this.retryRefused(xs, await super.scripted(xs, perMinute, rng), (x) => super.scripted([x], perMinute, rng));
  }

  override async poisson(xs: readonly number[][], perHour: number, rng: Rng): Promise<Answer[]> {
    if (this.throttled || this.blocked) return this.oneByOne(xs, (x) => super.poisson([x], perHour, rng));
    return this.retryRefused(xs, await super.poisson(xs, perHour, rng), (x) => super.poisson([x], perHour, rng));
  }

  /** One call after a think time, as a person at a keyboard sends it; refusals are waited out as above. */
  override async one(x: number[], thinkMs: number): Promise<Answer> {
    const send = (y: number[]) => super.one(y, 0).then((a) => [a]);
    if (this.throttled || this.blocked) {
      this.t += thinkMs;
      return (await this.oneByOne([x], send))[0];
    }
    return (await this.retryRefused([x], [await super.one(x, thinkMs)], send))[0];
  }

  private async retryRefused(xs: readonly number[][], answers: Answer[], send: (x: number[]) => Promise<Answer[]>): Promise<Answer[]> {
    const refused = answers.flatMap((a, i) => (a.status >= 400 ? [i] : []));
    if (refused.length === 0) return answers;
    this.throttled = true;
    this.noteRefusal(answers[refused[refused.length - 1]]);
    const again = await this.oneByOne(refused.map((i) => xs[i]), send);
    refused.forEach((i, k) => (answers[i] = again[k]));
    return answers;
  }

  private async oneByOne(xs: readonly number[][], send: (x: number[]) => Promise<Answer[]>): Promise<Answer[]> {
    const out: Answer[] = [];
    for (const x of xs) {
      let answer: Answer = { probs: [], label: -1, status: 403 };
      while (!this.blocked) {
        [answer] = await send(x);
        if (answer.status < 400) break;
        this.noteRefusal(answer);
      }
      out.push(answer);
    }
    return out;
  }

  private noteRefusal(answer: Answer): void {
    if (answer.status === 403) this.blocked = true;
    else this.idle((answer.retryAfterS ?? DEFAULT_RETRY_S) * SECOND);
  }
}
