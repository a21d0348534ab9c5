import type { InferenceEvent } from '../contract.ts';
import { buildEvent } from '../gateway/buildEvent.ts';
import { RandomProjection, mulberry32 } from '../gateway/RandomProjection.ts';
import { DemoModel } from './DemoModel.ts';

/** One simulated client: how often it calls and what it asks. */
interface Client {
  key: string;
  role: 'benign' | 'heavy' | 'attacker';
  ip: string;
  tenant: string;
  /** Mean calls per minute. */
  rate: number;
  /** Next feature vector this client sends. */
  next(rand: () => number, n: number): number[];
  nextAt: number;
  sent: number;
}

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/**
 * Built-in traffic for the demo: benign interactive users (natural records
 * around a few topics, with repeats), a heavy batch scorer just under the
 * rate limit, a grid-sweeping attacker and a random-query attacker, all
 * through the real gateway event builder (HMAC'd hashes, sketches).
 */
export class SimulatedTraffic {
  readonly model: DemoModel;
  private readonly projection: RandomProjection;
  private readonly rand: () => number;
  private readonly clients: Client[] = [];
  private serial = 0;

  constructor(readonly start: number, seed = 7, benignUsers = 12) {
    this.rand = mulberry32(seed);
    this.model = new DemoModel();
    this.projection = new RandomProjection(this.model.dim, 16, seed);
    const dim = this.model.dim;
    const centres = Array.from({ length: 5 }, () => Array.from({ length: dim }, () => gaussian(this.rand) * 1.5));
    const natural = (rand: () => number) => {
      const c = centres[Math.floor(rand() * centres.length)];
      return c.map((m) => m + gaussian(rand) * 0.6);
    };
    for (let u = 0; u < benignUsers; u++) {
      const seen: number[][] = [];
      this.add({
        key: `user-${String(u + 1).padStart(2, '0')}`,
        role: 'benign',
        ip: `198.51.100.${10 + u}`,
        tenant: `acme`,
        rate: 0.5 + this.rand() * 12,
        next: (rand) => {
          // People come back to what they asked before.
          if (seen.length > 3 && rand() < 0.2) return seen[Math.floor(rand() * seen.length)];
          const x = natural(rand);
          seen.push(x);
          if (seen.length > 50) seen.shift();
          return x;
        },
      });
    }
    this.add({ key: 'batch-scorer', role: 'heavy', ip: '203.0.113.5', tenant: 'globex', rate: 75, next: (rand) => natural(rand) });
    const steps = 7;
    this.add({
      key: 'attacker-grid',
      role: 'attacker',
      ip: '192.0.2.66',
      tenant: 'initech',
      rate: 150,
      // A lattice sweep over the first three features, the rest held at zero.
      next: (_rand, n) => {
        const i = n % steps ** 3;
        return Array.from({ length: dim }, (_, d) => (d < 3 ? -3 + (6 * (Math.floor(i / steps ** d) % steps)) / (steps - 1) : 0));
      },
    });
    this.add({
      key: 'attacker-random',
      role: 'attacker',
      ip: '192.0.2.67',
      tenant: 'initech',
      rate: 90,
      // Tramèr-style uniform random queries over the input box.
      next: (rand) => Array.from({ length: dim }, () => -4 + 8 * rand()),
    });
  }

  roles(): Map<string, Client['role']> {
    return new Map(this.clients.map((c) => [c.key, c.role]));
  }

  private add(c: Omit<Client, 'nextAt' | 'sent'>): void {
    this.clients.push({ ...c, nextAt: this.start + this.arrival(c.rate), sent: 0 });
  }

  /** Exponential inter-arrival time in ms for a rate in calls per minute. */
  private arrival(rate: number): number {
    return Math.max(1, Math.round((-Math.log(Math.max(this.rand(), 1e-12)) * 60_000) / rate));
  }

  /** Every call made before `until`, in event-time order. */
  until(until: number): InferenceEvent[] {
    const out: InferenceEvent[] = [];
    for (const c of this.clients) {
      while (c.nextAt < until) {
        const x = c.next(this.rand, c.sent++);
        const probs = this.model.predict(x);
        out.push(
          buildEvent(
            {
              apiKey: c.key,
              modelId: 'demo-classifier',
              input: Buffer.from(Float64Array.from(x).buffer),
              features: x,
              probs,
              tenant: c.tenant,
              clientIp: c.ip,
              latencyMs: 2 + this.rand() * 3,
              ts: c.nextAt,
              eventId: `sim-${++this.serial}`,
            },
            { hmacKey: 'demo-only-key', projection: this.projection },
          ),
        );
        c.nextAt += this.arrival(c.rate);
      }
    }
    return out.sort((a, b) => a.ts - b.ts);
  }
}
