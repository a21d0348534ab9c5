import type { Rng } from '../Rng.ts';
import type { Client } from '../world/Client.ts';
import { DAY, HOUR, SECOND, nextWorkingTime } from '../world/Schedule.ts';

/** How one person works: office hours, sessions per day, calls per session and think time between calls. */
export interface SessionHabits {
  /** Working hours [open, close) of the person's weekdays (UTC hours). */
  open: number;
  close: number;
  sessionsPerDay: number;
  /** Median calls per session (log-normal, σ = 0.6), at most `maxCalls`. */
  medianCalls: number;
  maxCalls: number;
  /** Median think time between two calls of a session (log-normal, σ = 0.8). */
  thinkMs: number;
}

/** The habits of an interactive app user (as `InteractiveUser`): 2–6 sessions a day of about 6 calls, 20 s apart. */
export function interactiveHabits(rng: Rng): SessionHabits {
  const open = rng.uniform(7, 10);
  return { open, close: open + rng.uniform(7, 9), sessionsPerDay: rng.uniform(2, 6), medianCalls: 6, maxCalls: 40, thinkMs: 20 * SECOND };
}

/**
 * Sends calls the way a person at work does: sessions arrive as a Poisson
 * process within the person's working hours on weekdays, and within a
 * session calls follow one another after log-normal think times (the
 * first session within one mean gap of the first working time). `next`
 * gives each call's input. Stops at `end` (event time) or after `budget`
 * calls; returns the number of calls made. The client's clock is the
 * person's: it starts at the first session after the client's time.
 */
export async function officeSessions(
  client: Client,
  rng: Rng,
  habits: SessionHabits,
  end: number,
  next: () => number[],
  budget = Infinity,
): Promise<number> {
  const { open, close } = habits;
  const sessionGap = ((close - open) * HOUR) / habits.sessionsPerDay;
  let calls = 0;
  // The first session comes within one gap of the person's first working time, so a short span still sees them.
  const first = nextWorkingTime(client.t, open, close);
  const closing = Math.floor(first / DAY) * DAY + close * HOUR;
  client.t = first + rng.uniform(0, Math.min(sessionGap, closing - first));
  while (client.t < end && calls < budget) {
    const length = Math.min(habits.maxCalls, Math.max(1, Math.round(rng.logNormal(habits.medianCalls, 0.6))));
    for (let q = 0; q < length && calls < budget; q++) {
      const think = q === 0 ? 0 : rng.logNormal(habits.thinkMs, 0.8);
      if (client.t + think >= end) return calls;
      await client.one(next(), think);
      calls++;
    }
    client.t = nextWorkingTime(client.t + rng.exponential(sessionGap), open, close);
  }
  return calls;
}
