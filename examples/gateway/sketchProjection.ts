import type { KeyObject } from 'node:crypto';
import type { ReaderLogger } from '../../src/gateway/DecisionReader.ts';
import { RandomProjection } from '../../src/gateway/RandomProjection.ts';
import type { GatewayConfig } from './gatewayConfig.ts';

/**
 * The projection behind the events' `input_sketch`: keyed by the deployment's
 * HMAC key, so that only the gateways can rebuild its matrix. A numeric
 * `sketch.seed` opts out; anyone who knows that seed rebuilds the matrix, and
 * with no more features than the width inverts every sketch to its raw input,
 * so the opt-out is logged as a warning at start. The key is never logged.
 */
export function sketchProjection(sketch: GatewayConfig['sketch'], inputDim: number, hmacKey: KeyObject, logger: ReaderLogger): RandomProjection {
  const { width, seed } = sketch;
  if (seed === undefined) {
    logger.info({ inputDim, width, projection: 'keyed' }, 'input sketches keyed by the HMAC key');
    return RandomProjection.keyed(inputDim, width, hmacKey);
  }
  const invertible = inputDim <= width;
  logger.warn(
    { inputDim, width, projection: 'seeded', invertible },
    invertible
      ? `sketch.seed is set: anyone who knows the seed inverts every sketch to the raw input (${inputDim} features, width ${width}); remove sketch.seed to key the sketches with the HMAC key`
      : 'sketch.seed is set: anyone who knows the seed can rebuild the sketch projection; remove sketch.seed to key the sketches with the HMAC key',
  );
  return new RandomProjection(inputDim, width, seed);
}
