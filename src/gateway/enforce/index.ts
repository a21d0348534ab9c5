/**
 * Enforcement in the gateway: apply a key's response level to each call
 * (throttle, truncate, deceive, block), with the settings schema, the token
 * buckets (Redis-shared and in-memory) and the watermark detector.
 */
export { Enforcer, type EnforcerOptions, type EnforcerCounts, type EnforcedAnswer, type EnforcementCall, type EnforcementError, type ModelAnswer } from './Enforcer.ts';
export { enforcementOptionsSchema, parseEnforcementOptions, type EnforcementSettings, type EnforcementSettingsInput } from './enforcementOptions.ts';
export { type RateBucket, type SyncRateBucket, isSyncRateBucket } from './RateBucket.ts';
export { takeToken, msUntilFull, type BucketState, type TakeResult } from './takeToken.ts';
export { InMemoryTokenBucket, type InMemoryTokenBucketOptions } from './InMemoryTokenBucket.ts';
export { RedisTokenBucket, type RedisTokenBucketOptions } from './RedisTokenBucket.ts';
export { roundProbs } from './truncateProbs.ts';
export { reverseSigmoid } from './reverseSigmoid.ts';
export { adaptiveMisinformation, keyedWrongClass, rankReversed } from './adaptiveMisinformation.ts';
export { deceiveProbs, type DeceptionQuery, type DeceptionKeys } from './deceiveProbs.ts';
export { watermarkScore, watermarkSigns, embedWatermark, type WatermarkScore, type WatermarkedAnswer } from './watermark.ts';
export { queryRandom } from './queryRandom.ts';
