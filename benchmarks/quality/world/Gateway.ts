import { createHash, createSecretKey, type KeyObject } from 'node:crypto';
import type { InferenceEvent } from '../../../src/contract.ts';
import { buildEvent } from '../../../src/gateway/buildEvent.ts';
import { RandomProjection } from '../../../src/gateway/RandomProjection.ts';
import type { Rng } from '../Rng.ts';
import type { Standardizer } from '../Standardizer.ts';
import { FEATURES } from '../weatherData.ts';
import type { Answer, KeyIdentity } from './types.ts';

/**
 * The gateway in front of the victim, emitting events exactly as production
 * does: the SDK's `buildEvent` with a keyed (HMAC) input hash over the
 * canonical request bytes, a `RandomProjection` sketch of the standardised
 * features, and the answer as returned to the client.
 */
export class Gateway {
  readonly projection: RandomProjection;
  private readonly hmacKey: KeyObject;

  constructor(
    private readonly standardizer: Standardizer,
    private readonly rng: Rng,
    readonly modelId = 'seattle-weather-mlp',
  ) {
    this.projection = new RandomProjection(FEATURES.length);
    // A simulated deployment secret, derived from the seed (never a real credential).
    this.hmacKey = createSecretKey(createHash('sha256').update(`probewatch-bench-quality-${rng.seed}`).digest());
  }

  /** The request body a client sends: the raw feature values as JSON, 4 decimals. */
  canonicalInput(x: readonly number[]): string {
    const raw = this.standardizer.invert(x);
    return JSON.stringify(Object.fromEntries(FEATURES.map((f, j) => [f, Number(raw[j].toFixed(4))])));
  }

  event(key: KeyIdentity, x: readonly number[], answer: Answer, ts: number, eventId: string, enforcement: string | null): InferenceEvent {
    return buildEvent(
      {
        apiKey: key.apiKey,
        tenant: key.tenant,
        clientIp: key.clientIp,
        modelId: this.modelId,
        input: this.canonicalInput(x),
        features: x,
        probs: answer.probs,
        label: answer.label,
        status: answer.status,
        latencyMs: this.rng.logNormal(3, 0.3),
        enforcement,
        ts,
        eventId,
      },
      { hmacKey: this.hmacKey, projection: this.projection },
    );
  }
}
