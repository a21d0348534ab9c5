import { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { Partitioners } from 'kafkajs';
import { Registry } from 'prom-client';
import { AvroEventCodec } from '../codec/AvroEventCodec.ts';
import { createKernels } from '../compute/createKernels.ts';
import type { Config } from '../config/configSchema.ts';
import { detectionConfigHash } from '../config/loadConfig.ts';
import { HTTP_TOKEN_ENV, startHttpServer } from '../observability/httpServer.ts';
import type { Logger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { BatchProcessor } from '../pipeline/BatchProcessor.ts';
import { DetectionPipeline } from '../pipeline/DetectionPipeline.ts';
import { KafkaRunner } from '../pipeline/KafkaRunner.ts';
import { AggregateStageRunner } from '../pipeline/AggregateStageRunner.ts';
import { countingOutput, countingSnapshots } from '../pipeline/countingSinks.ts';
import { adminPartitionOffsets, createKafka } from '../pipeline/kafkaClient.ts';
import { testFaultPoint } from '../pipeline/testFaultPoint.ts';
import { KafkaPublisher } from '../sinks/KafkaPublisher.ts';
import { RedisDecisionStore } from '../sinks/RedisDecisionStore.ts';
import { RedisSnapshotStore } from '../state/RedisSnapshotStore.ts';
import type { ProbewatchError } from '../errors.ts';
import { createAlertSink } from '../sinks/createAlertSink.ts';
import { startLiveReload } from './liveReload.ts';
import { type StartStep, startFailure } from './startFailure.ts';
import { loadDecisionKey } from '../codec/decisionSignature.ts';
import { redisConnectionOptions } from '../config/redisConnectionOptions.ts';
import { DependencyWatch } from '../pipeline/DependencyWatch.ts';
import { LivenessMonitor } from '../pipeline/LivenessMonitor.ts';
import { readSecret } from '../readSecret.ts';
import { DecisionStoreRestorer } from '../sinks/DecisionStoreRestorer.ts';
import { readDecisionTopic } from '../sinks/readDecisionTopic.ts';
import { ManualDecisionBook } from '../policy/ManualDecisionBook.ts';
import { ManualDecisionStore } from '../sinks/ManualDecisionStore.ts';
import { ManualDecisionPoller } from '../sources/ManualDecisionPoller.ts';

/** After a clean shutdown, how long the process may stay up before it says what holds it and exits. */
const EXIT_GRACE_MS = 5_000;

export interface RunCommandOptions {
  config: Readonly<Config>;
  env: Record<string, string | undefined>;
  logger: Logger;
  /** The config file, re-read at a reload (SIGHUP, or a change when `reload.watch` is on). */
  configFile?: string;
}

/**
 * `probewatch run`: consume events from Kafka, publish RiskScores and
 * Decisions to Kafka and Redis, serve /metrics and /healthz. Resolves with
 * the exit code once shut down: 0 after SIGTERM/SIGINT (batch in flight
 * drained, outputs published, snapshots saved, offsets committed), 1 when
 * the consumer could not start or crashed for good.
 */
export async function runCommand({ config, env, logger, configFile }: RunCommandOptions): Promise<number> {
  const metrics = createMetrics(new Registry(), { defaultMetrics: true });
  const configHash = detectionConfigHash(config);
  metrics.configInfo.set({ sha256: configHash }, 1);
  const compute = await createKernels(config.compute, { logger });
  metrics.computeBackend.set({ backend: compute.backend }, 1);
  for (const c of Object.values(compute.kernels)) metrics.computeKernelBackend.set({ kernel: c.kernel, backend: c.backend }, 1);
  logger.info({ backend: compute.backend, detectionConfigSha256: configHash, brokers: config.kafka.brokers, groupId: config.kafka.groupId }, 'starting');

  // What is being started; a failure there is reported in one line naming the setting (startFailure).
  let starting: StartStep | undefined = 'http';
  const kafka = createKafka(config.kafka, env, logger, () => starting !== undefined);
  const signingKey = loadDecisionKey(env);
  if (!signingKey) logger.warn({}, 'decisions are not signed: set PROBEWATCH_DECISION_KEY (or …_FILE) so gateways can refuse forged ones');
  const httpToken = readSecret(env, HTTP_TOKEN_ENV);
  const redis = new Redis(config.redis.url, { lazyConnect: true, maxRetriesPerRequest: 3, ...redisConnectionOptions(config.redis, env) });
  // Without a listener ioredis reports every reconnect attempt as an unhandled error.
  let redisStartError: Error | undefined;
  redis.on('error', (err: Error) => (starting ? (redisStartError = err) : logger.warn({ err: err.message }, 'redis connection error')));
  const publisher = new KafkaPublisher(
    kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true }),
    config.kafka.topics,
    signingKey,
  );
  // Each call to Redis and Kafka is timed: one that hangs is logged once, by name, and shows on /healthz.
  const watch = new DependencyWatch({
    stuckAfterMs: config.health.stuckAfterMs,
    logger,
    onChange: (dependency, stuck) => metrics.dependencyStuck.set({ dependency }, stuck ? 1 : 0),
  });
  const restorer = new DecisionStoreRestorer(redis, {
    keyPrefix: config.redis.keyPrefix,
    channel: config.redis.decisionChannel,
    readDecisions: () => readDecisionTopic(kafka, config.kafka.topics.decisions, (d) => d.expires_at > Date.now()),
    checkEveryMs: config.redis.decisionStoreCheckMs,
    signingKey,
    logger,
    onRestored: (n) => {
      metrics.decisionStoreRestores.inc();
      metrics.decisionsRestored.inc(n);
    },
  });
  // Analysts' decisions: a manual allow is a run-time allowlist entry for the ladder.
  const manual = new ManualDecisionBook();
  const manualPoller = new ManualDecisionPoller(new ManualDecisionStore(redis, { keyPrefix: config.redis.keyPrefix, channel: config.redis.decisionChannel, signingKey }), manual, logger);
  // The aggregate views as a second, entity-keyed stage (off: each instance pools the keys it owns).
  const aggregateStage = config.aggregateStage.enabled ? new AggregateStageRunner(kafka, redis, config, logger, metrics) : undefined;
  const pipeline = new DetectionPipeline(config, { compute, metrics, logger, manual, entityStage: aggregateStage?.link });
  const alerts = createAlertSink(config.alerts, {
    env,
    producer: () => kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true }),
    logger,
    metrics,
  });
  const processor = new BatchProcessor({
    pipeline,
    codec: new AvroEventCodec({ limits: config.input }),
    gate: config.input,
    publisher: watch.wrap('kafka', countingOutput(aggregateStage ? aggregateStage.withFacts(publisher) : publisher, metrics, 'kafka')),
    decisionStore: watch.wrap('redis', countingOutput(new RedisDecisionStore(redis, { keyPrefix: config.redis.keyPrefix, channel: config.redis.decisionChannel, signingKey }), metrics, 'redis')),
    snapshots: watch.wrap('redis', countingSnapshots(new RedisSnapshotStore(redis, { keyPrefix: config.redis.keyPrefix, ttlMs: config.state.snapshotTtlMs }), metrics)),
    snapshotEveryMs: config.state.snapshotEveryMs,
    snapshotShare: config.state.snapshotShare,
    aggregates: config.state.aggregates,
    pendingFacts: aggregateStage && (() => aggregateStage.link.pendingFacts),
    logger,
    metrics,
    alerts,
    faultPoint: testFaultPoint(env, logger),
  });
  const reload = startLiveReload({ file: configFile, env, config, processor, pipeline, alerts, logger, metrics });
  // /healthz: the runner's state, plus stalls seen from the broker's side (lag, no batch completing).
  const liveness = new LivenessMonitor(kafka.admin(), {
    topic: config.kafka.topics.events,
    groupId: config.kafka.groupId,
    stallAfterMs: config.health.stallAfterMs,
    lagEveryMs: config.health.lagEveryMs,
    runner: () => runner.health(),
    stuck: () => watch.stuck(),
    logger,
    metrics,
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
  const http = await startHttpServer({ host: config.http.host, port: config.http.port, registry: metrics.registry, health: () => ({ ...liveness.health() }), logger, token: httpToken }).catch(
    (err: unknown) => {
      throw startFailure('http', err, config);
    },
  );

  // Keys at each level and the top keys are read from the keys in memory at each scrape.
  metrics.observeKeys(() => pipeline.store.views());
  const signalled = new Promise<string>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve(signal));
  });
  let code = 0;
  let failure: ProbewatchError | undefined;
  try {
    starting = 'redis';
    watch.start();
    await redis.connect();
    await manualPoller.start();
    starting = 'kafka';
    await publisher.start();
    await admin.connect();
    await aggregateStage?.start();
    await runner.start();
    starting = undefined;
    restorer.start();
    await liveness.start();
    const outcome = await Promise.race([signalled, runner.crashed]);
    if (outcome instanceof Error) code = 1;
    logger.info({ reason: outcome instanceof Error ? 'consumer crashed' : outcome }, 'shutting down');
  } catch (err) {
    // ioredis rejects with "Connection is closed"; the reason is in the error it emitted.
    if (starting) failure = startFailure(starting, starting === 'redis' ? (redisStartError ?? err) : err, config);
    else logger.error({ err }, 'could not start');
    code = 1;
  }
  watch.stop();
  manualPoller.stop();
  await shutdown([
    ['reload', () => reload.close()],
    ['consumer', () => runner.stop()],
    ['aggregate stage', async () => aggregateStage?.close()],
    ['lag monitor', () => liveness.stop()],
    ['decision store restorer', () => restorer.close()],
    ['aggregate snapshots', () => processor.flush()],
    ['alerts', async () => alerts?.close()],
    ['producer', () => publisher.close()],
    ['admin', () => admin.disconnect()],
    ['redis', async () => void (await redis.quit())],
    ['http', () => http.close()],
  ], logger);
  logger.info({ code }, 'stopped');
  // Everything is closed: nothing should keep the process alive. Should something (a library's handle) do so, say what and leave.
  setTimeout(() => {
    const sockets = (process as unknown as { _getActiveHandles(): unknown[] })
      ._getActiveHandles()
      .filter((h): h is Socket => h instanceof Socket && h.remotePort !== undefined)
      .map((h) => `${h.localAddress}:${h.localPort} -> ${h.remoteAddress}:${h.remotePort}`);
    logger.warn({ resources: process.getActiveResourcesInfo().filter((r) => r !== 'Timeout'), sockets }, 'still running after shutdown; exiting');
    process.exit(code);
  }, EXIT_GRACE_MS).unref();
  // Thrown after the shutdown so that `main` prints it as one line.
  if (failure) throw failure;
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
