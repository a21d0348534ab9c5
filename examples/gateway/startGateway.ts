import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { type Producer, Partitioners } from 'kafkajs';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Config } from '../../src/config/configSchema.ts';
import { DecisionReader } from '../../src/gateway/DecisionReader.ts';
import { Enforcer } from '../../src/gateway/enforce/Enforcer.ts';
import { RedisTokenBucket } from '../../src/gateway/enforce/RedisTokenBucket.ts';
import { type EmitterStats, GatewayEmitter } from '../../src/gateway/GatewayEmitter.ts';
import { loadHmacKey } from '../../src/gateway/hmacKey.ts';
import { loadDecisionKey } from '../../src/codec/decisionSignature.ts';
import { redisConnectionOptions } from '../../src/config/redisConnectionOptions.ts';
import { ProbewatchError } from '../../src/errors.ts';
import { createKafka } from '../../src/pipeline/kafkaClient.ts';
import { ApiKeyTable } from './ApiKeyTable.ts';
import type { GatewayConfig } from './gatewayConfig.ts';
import { createInferenceServer } from './InferenceServer.ts';
import { sketchProjection } from './sketchProjection.ts';
import { WeatherModel } from './WeatherModel.ts';

/** Optional secret keying the deceive noise and the per-key watermark (required when the watermark is enabled). */
export const WATERMARK_KEY_ENV = 'GATEWAY_WATERMARK_KEY';

export interface StartGatewayOptions {
  /** probewatch's config: the gateway uses its `kafka` and `redis` sections, so both agree on topics, prefix and channel. */
  probewatch: Readonly<Config>;
  gateway: Readonly<GatewayConfig>;
  /** `PROBEWATCH_HMAC_KEY`, `GATEWAY_API_KEYS`, Kafka SASL credentials. */
  env: Record<string, string | undefined>;
  logger: Logger;
}

export interface RunningGateway {
  port: number;
  /** Stops taking requests, lets those in flight finish, flushes the events, closes Kafka and Redis. */
  close(): Promise<EmitterStats>;
}

/** Connects the producer, retrying in the background: the gateway serves while Kafka is away (the emitter buffers). */
function connectInBackground(producer: Producer, logger: Logger, stopped: () => boolean): { connected: () => boolean } {
  let connected = false;
  void (async () => {
    for (let waitMs = 500; !stopped(); waitMs = Math.min(waitMs * 2, 30_000)) {
      try {
        await producer.connect();
        connected = true;
        logger.info('kafka producer connected');
        return;
      } catch (err) {
        logger.warn({ err: (err as Error).message, retryInMs: waitMs }, 'kafka producer cannot connect; events are buffered');
        await new Promise((r) => setTimeout(r, waitMs).unref());
      }
    }
  })();
  return { connected: () => connected };
}

/**
 * Starts the example gateway: trains the model, connects the emitter
 * (Kafka), the decision reader and the enforcer (Redis), and listens.
 * Configuration errors (HMAC key, API keys) are thrown before anything
 * connects.
 */
export async function startGateway({ probewatch, gateway, env, logger }: StartGatewayOptions): Promise<RunningGateway> {
  const hmacKey = loadHmacKey(env);
  const watermarkKey = env[WATERMARK_KEY_ENV] ? loadHmacKey(env, WATERMARK_KEY_ENV) : undefined;
  if (gateway.enforcement.deceive.watermark.enabled && !watermarkKey) {
    throw new ProbewatchError('PW_CONFIG', `enforcement.deceive.watermark.enabled needs ${WATERMARK_KEY_ENV} (a secret of at least 32 bytes) in the environment`);
  }
  const keys = ApiKeyTable.fromEnv(gateway.keys, env);
  const started = performance.now();
  const model = await WeatherModel.train(gateway.model);
  logger.info({ model: model.id, seed: gateway.model.seed, heldOutAccuracy: Number(model.accuracy.toFixed(4)), trainMs: Math.round(performance.now() - started) }, 'model trained');

  const registry = new Registry();
  let closing = false;
  const producer = createKafka(probewatch.kafka, env, logger).producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
  const kafkaState = connectInBackground(producer, logger, () => closing);
  const emitter = new GatewayEmitter({
    producer,
    topic: probewatch.kafka.topics.events,
    hmacKey,
    projection: sketchProjection(gateway.sketch, model.ranges.length, hmacKey, logger),
    registry,
    onError: (err) => logger.warn({ code: err.code, err: err.message }, 'event emitter error'),
  });

  const redis = new Redis(probewatch.redis.url, { maxRetriesPerRequest: 1, ...redisConnectionOptions(probewatch.redis, env) });
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis connection error'));
  const reader = new DecisionReader(redis, {
    keyPrefix: probewatch.redis.keyPrefix,
    channel: probewatch.redis.decisionChannel,
    ...gateway.decisions,
    connectionName: 'probewatch-example-gateway',
    registry,
    logger,
    // PROBEWATCH_DECISION_KEY (or …_FILE), shared with probewatch: unsigned and forged decisions are dropped.
    signingKey: loadDecisionKey(env),
  });
  // Throttled keys share one token bucket per key in Redis, whichever gateway instance they call.
  const bucket = new RedisTokenBucket(redis, { keyPrefix: `${probewatch.redis.keyPrefix}throttle:` });
  const enforcer = new Enforcer({ ...gateway.enforcement, bucket, watermarkKey, registry });
  if (!(await reader.start())) logger.warn({ onUnavailable: gateway.decisions.onUnavailable }, 'decision store not reachable yet; serving by the fail mode meanwhile');

  const server: Server = createInferenceServer({
    model,
    keys,
    emitter,
    decisions: reader,
    enforcer,
    hmacKey,
    maxBodyBytes: gateway.http.maxBodyBytes,
    registry,
    logger,
    health: () => ({
      healthy: !closing,
      model: model.id,
      decisionStore: reader.fresh ? 'fresh' : reader.available ? 'stale' : 'unavailable',
      kafka: kafkaState.connected() ? 'connected' : 'connecting',
      events: emitter.stats(),
    }),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(gateway.http.port, gateway.http.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ host: gateway.http.host, port, model: model.id, keys: keys.size }, 'gateway listening');

  return {
    port,
    async close() {
      closing = true;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const stats = await emitter.close();
      await producer.disconnect().catch((err: Error) => logger.warn({ err: err.message }, 'kafka disconnect failed'));
      await reader.close();
      await redis.quit().catch(() => redis.disconnect());
      return stats;
    },
  };
}
