/**
 * probewatch's public surface, bottom-up in the order data flows:
 * contract → codec → state → detectors → fusion → policy → sinks →
 * pipeline, then config and the gateway SDK.
 */
export { LEVELS, levelRank, type Level, type InferenceEvent, type RiskScore, type Decision, type DeadLetter } from './contract.ts';
export { DECISION_SCOPES, decisionSlot, type DecisionScope } from './contract.ts';
export { ProbewatchError, isProbewatchError, type ErrorCode } from './errors.ts';
export { Cidr } from './net/Cidr.ts';

export { AvroEventCodec, DEFAULT_EVENT_SCHEMA_ID } from './codec/AvroEventCodec.ts';
export { SCHEMA_IDS, ContractCodec, riskScoreCodec, decisionCodec, deadLetterCodec } from './codec/contractCodecs.ts';
export { parseEventLine, formatEventLine, formatRiskScore } from './codec/ndjson.ts';
export { validateEvent } from './codec/validateEvent.ts';
export { signDecision, verifyDecision, DECISION_SIGNATURE_HEADER, type SignedDecision } from './codec/decisionSignature.ts';
export { readRecordedEvents, type RecordedItem } from './sources/recordedEvents.ts';
export { InMemoryTopic } from './sources/InMemoryTopic.ts';

export { KeyStateStore, eventIdDigest, type KeyState } from './state/KeyStateStore.ts';
export { RedisSnapshotStore } from './state/RedisSnapshotStore.ts';

export { DETECTORS, type Detector, type DetectorContext, type DetectorDefinition, type DetectorOutput, type KeyGroup } from '../detectors/index.ts';
export { createCompute, BACKEND_PREFERENCE, type BackendChoice } from './compute/createCompute.ts';
export { createKernels } from './compute/createKernels.ts';
export { KernelRouter } from './compute/KernelRouter.ts';
export { KERNELS, type KernelName, type KernelChoice } from './compute/kernelChoice.ts';

export { noisyOr } from './fusion/noisyOr.ts';
export { ResponseLadder, initialLadderState, type LadderState, type LadderStep } from './policy/ResponseLadder.ts';
export { PolicyResolver, type LevelPolicy } from './policy/PolicyResolver.ts';
export { ManualDecisionBook } from './policy/ManualDecisionBook.ts';

export { InMemorySink } from './sinks/InMemorySink.ts';
export { KafkaPublisher, type KafkaOutputs, type OutputTopics } from './sinks/KafkaPublisher.ts';
export { RedisDecisionStore, decisionRedisKey } from './sinks/RedisDecisionStore.ts';
export { DecisionStoreRestorer } from './sinks/DecisionStoreRestorer.ts';
export { ManualDecisionStore, type ManualDecisionStoreOptions } from './sinks/ManualDecisionStore.ts';

export { DetectionPipeline, type PipelineOutput, type PipelineDeps } from './pipeline/DetectionPipeline.ts';
export { BatchProcessor } from './pipeline/BatchProcessor.ts';
export { KafkaRunner } from './pipeline/KafkaRunner.ts';
export { AggregateStage, type StagePartitionState } from './pipeline/AggregateStage.ts';
export { AggregateStageLink } from './pipeline/AggregateStageLink.ts';
export { AggregateStageRunner } from './pipeline/AggregateStageRunner.ts';
export { LivenessMonitor } from './pipeline/LivenessMonitor.ts';
export { DependencyWatch } from './pipeline/DependencyWatch.ts';

export { configSchema, type Config } from './config/configSchema.ts';
export { loadConfig, parseConfig, detectionConfigHash } from './config/loadConfig.ts';

export * from './gateway/index.ts';
