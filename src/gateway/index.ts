/**
 * The gateway SDK: emit one InferenceEvent per inference call, and read the
 * decisions probewatch publishes, from a local cache kept fresh by Redis.
 */
export { hashInput, buildEvent, answersAltered, type InferenceCall, type EventBuilderOptions } from './buildEvent.ts';
export { RandomProjection, PUBLIC_SKETCH_SEED, mulberry32 } from './RandomProjection.ts';
export { loadHmacKey, HMAC_KEY_ENV, MIN_HMAC_KEY_BYTES } from './hmacKey.ts';
export { loadDecisionKey, DECISION_KEY_ENV } from '../codec/decisionSignature.ts';
export { GatewayEmitter, type GatewayEmitterOptions, type EventProducer, type EventMessage, type EmitterStats, type DropReason } from './GatewayEmitter.ts';
export { InMemoryEventProducer } from './InMemoryEventProducer.ts';
export {
  DecisionReader,
  type DecisionReaderOptions,
  type DecisionReaderCounts,
  type CallContext,
  type DecisionSource,
  type GatewayDecision,
  type ReaderLogger,
} from './DecisionReader.ts';
export {
  Enforcer,
  type EnforcerOptions,
  type EnforcedAnswer,
  type EnforcementCall,
  type ModelAnswer,
  enforcementOptionsSchema,
  parseEnforcementOptions,
  type EnforcementSettings,
  type RateBucket,
  InMemoryTokenBucket,
  RedisTokenBucket,
  watermarkScore,
} from './enforce/index.ts';
export { DecisionCache, type DecisionCacheCounts, type UnavailablePolicy } from './DecisionCache.ts';
export { CachedDecisionSource, type DecisionFeedCounts } from './CachedDecisionSource.ts';
export { KafkaDecisionFeed, type KafkaDecisionFeedOptions, type KafkaDecisionFeedCounts } from './KafkaDecisionFeed.ts';
