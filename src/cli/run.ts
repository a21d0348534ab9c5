import { Redis } from 'ioredis';
import { Partitioners } from 'kafkajs';
import { Registry } from 'prom-client';
import { AvroEventCodec } from '../codec/AvroEventCodec.ts';
import { createCompute } from '../compute/createCompute.ts';
import type { Config } from '../config/configSchema.ts';
import { detectionConfigHash } from '../config/loadConfig.ts';
import { startHttpServer } from '../observability/httpServer.ts';
import type { Logger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { BatchProcessor } from '../pipeline/BatchProcessor.ts';
import { DetectionPipeline } from '../pipeline/DetectionPipeline.ts';
import { KafkaRunner } from '../pipeline/KafkaRunner.ts';
import { adminPartitionOffsets, createKafka } from '../pipeline/kafkaClient.ts';
import { testFaultPoint } from '../pipeline/testFaultPoint.ts';
import { KafkaPublisher } from '../sinks/KafkaPublisher.ts';
import { RedisDecisionStore } from '../sinks/RedisDecisionStore.ts';
import { RedisSnapshotStore } from '../state/RedisSnapshotStore.ts';

export interface RunCommandOptions {
  config: Readonly<Config>;
  env: Record<string, string | undefined>;
  logger: Logger;
}

/**
 * `probewatch run`: consume events from Kafka, publish RiskScores and
 * Decisions to Kafka and Redis, serve /metrics and /healthz. Resolves with
 * the exit code once shut down: 0 after SIGTERM/SIGINT (batch in flight
 * drained, outputs published, snapshots saved, offsets committed), 1 when
 * the consumer could not start or crashed for good.
 */
export async function runCommand({ config, env, logger }: RunCommandOptions): Promise<number> {
  const metrics = createMetrics(new Registry(), { defaultMetrics: true });
  const configHash = detectionConfigHash(config);
  metrics.configInfo.set({ sha256: configHash }, 1);
  const compute = await createCompute();
  metrics.computeBackend.set({ backend: compute.backend }, 1);
  logger.info({ backend: compute.backend, detectionConfigSha256: configHash, brokers: config.kafka.brokers, groupId: config.kafka.groupId }, 'starting');

  const kafka = createKafka(config.kafka, env, logger);
  const redis = new Redis(config.redis.url, { lazyConnect: true, maxRetriesPerRequest: 3 });
  // Without a listener ioredis reports every reconnect attempt as an unhandled error.
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis connection error'));
  const publisher = new KafkaPublisher(
    kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true }),
    config.kafka.topics,
  );
  const pipeline = new DetectionPipeline(config, { compute, metrics, logger });
  const processor = new BatchProcessor({
    pipeline,
    codec: new AvroEventCodec({ limits: config.input }),
    gate: config.input,
    publisher,
    decisionStore: new RedisDecisionStore(redis, { keyPrefix: config.redis.keyPrefix, channel: config.redis.decisionChannel }),
    snapshots: new RedisSnapshotStore(redis, { keyPrefix: config.redis.keyPrefix, ttlMs: config.state.snapshotTtlMs }),
    aggregates: config.state.aggregates,
    logger,
    metrics,
    faultPoint: testFaultPoint(env, logger),
  });
  const consumer = kafka.consumer({
    groupId: config.kafka.groupId,
    sessionTimeout: config.kafka.sessionTimeoutMs,
    heartbeatInterval: Math.max(100, Math.min(3_000, Math.floor(config.kafka.sessionTimeoutMs / 3))),
    // Long polls end early enough that a shutdown is not held up by an idle fetch.
    maxWaitTimeInMs: 1_000,
  });
  const admin = kafka.admin();
  const runner = new KafkaRunner(consumer, processor, {
    topic: config.kafka.topics.events,
    groupId: config.kafka.groupId,
    logger,
    metrics,
    offsets: adminPartitionOffsets(admin, config.kafka.groupId),
  });
  const http = await startHttpServer({ host: config.http.host, port: config.http.port, registry: metrics.registry, health: () => ({ ...runner.health() }), logger });

  const signalled = new Promise<string>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve(signal));
  });
  let code = 0;
  try {
    await redis.connect();
    await publisher.start();
    await admin.connect();
    await runner.start();
    const outcome = await Promise.race([signalled, runner.crashed]);
    if (outcome instanceof Error) code = 1;
    logger.info({ reason: outcome instanceof Error ? 'consumer crashed' : outcome }, 'shutting down');
  } catch (err) {
    logger.error({ err }, 'could not start');
    code = 1;
  }
  await shutdown([
    ['consumer', () => runner.stop()],
    ['aggregate snapshots', () => processor.flush()],
    ['producer', () => publisher.close()],
    ['admin', () => admin.disconnect()],
    ['redis', async () => void (await redis.quit())],
    ['http', () => http.close()],
  ], logger);
  logger.info({ code }, 'stopped');
  return code;
}

/** Closes each resource in order; one that fails is logged and the rest still close. */
async function shutdown(steps: [string, () => Promise<void>][], logger: Logger): Promise<void> {
  for (const [name, close] of steps) {
    try {
      await close();
    } catch (err) {
      logger.warn({ err, resource: name }, 'error while closing');
    }
  }
}
