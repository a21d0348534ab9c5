import { createHash, createSecretKey, type KeyObject } from 'node:crypto';
import type { InferenceEvent } from '../../../src/contract.ts';
import { buildEvent } from '../../../src/gateway/buildEvent.ts';
import { RandomProjection } from '../../../src/gateway/RandomProjection.ts';
import type { Rng } from '../Rng.ts';
import type { Standardizer } from '../Standardizer.ts';
import type { Answer, KeyIdentity } from './types.ts';

/** What the gateway knows of the model it fronts (a `VictimWorld` has it). */
export interface GatewayModel {
  readonly standardizer: Standardizer;
  /** Raw feature names, the keys of the request body. */
  readonly features: readonly string[];
  readonly modelId: string;
}

/**
 * The gateway in front of the victim, emitting events exactly as production
 * does: the SDK's `buildEvent` with a keyed (HMAC) input hash over the
 * canonical request bytes, a `RandomProjection` sketch of the standardised
 * features (at the SDK's default width, so wide inputs are compressed), the
 * answer as returned to the client and, when a response altered it, the
 * model's own answer beside it.
 */
export class Gateway {
  readonly projection: RandomProjection;
  private readonly hmacKey: KeyObject;

  private readonly standardizer: Standardizer;
  private readonly features: readonly string[];
  readonly modelId: string;

  constructor(
    model: GatewayModel,
    private readonly rng: Rng,
  ) {
    this.standardizer = model.standardizer;
    this.features = model.features;
    this.modelId = model.modelId;
    this.projection = new RandomProjection(model.features.length);
    // A simulated deployment secret, derived from the seed (never a real credential).
    this.hmacKey = createSecretKey(createHash('sha256').update(`probewatch-bench-quality-${rng.seed}`).digest());
  }

  /** The request body a client sends: the raw feature values as JSON, 4 decimals. */
  canonicalInput(x: readonly number[]): string {
    const raw = this.standardizer.invert(x);
    return JSON.stringify(Object.fromEntries(this.features.map((f, j) => [f, Number(raw[j].toFixed(4))])));
  }

  /** `model`: the model's own answer, reported beside the returned one when a response altered it (the SDK decides). */
  event(key: KeyIdentity, x: readonly number[], answer: Answer, ts: number, eventId: string, enforcement: string | null, model?: Answer): InferenceEvent {
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
        model: model ? { probs: model.probs, label: model.label } : undefined,
        ts,
        eventId,
      },
      { hmacKey: this.hmacKey, projection: this.projection },
    );
  }
}
