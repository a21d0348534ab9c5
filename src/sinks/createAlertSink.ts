import type { Producer } from 'kafkajs';
import type { Config } from '../config/configSchema.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { AlertQueue } from './AlertQueue.ts';
import { AlertSink } from './AlertSink.ts';
import { KafkaAlertTarget } from './KafkaAlertTarget.ts';
import { ALERT_WEBHOOK_AUTH_ENV, WebhookAlertTarget } from './WebhookAlertTarget.ts';

export interface AlertSinkDeps {
  env: Record<string, string | undefined>;
  /** A producer for the alerts topic (only asked for when `alerts.topic` is set). */
  producer: () => Producer;
  logger: Logger;
  metrics?: Metrics;
}

/** The configured SIEM destinations (`alerts.webhook.url`, `alerts.topic`), or undefined when there are none. */
export function createAlertSink(config: Config['alerts'], deps: AlertSinkDeps): AlertSink | undefined {
  const queueOptions = { capacity: config.queueSize, ...config.retry, logger: deps.logger, metrics: deps.metrics };
  const queues: AlertQueue[] = [];
  if (config.webhook.url) {
    const target = new WebhookAlertTarget({
      url: config.webhook.url,
      authHeader: config.webhook.authHeader,
      authValue: deps.env[ALERT_WEBHOOK_AUTH_ENV] || undefined,
      timeoutMs: config.webhook.timeoutMs,
    });
    queues.push(new AlertQueue(target, queueOptions));
    deps.logger.info({ target: 'webhook', origin: target.origin, minLevel: config.minLevel, auth: Boolean(deps.env[ALERT_WEBHOOK_AUTH_ENV]) }, 'alerts go to a webhook');
  }
  if (config.topic) {
    queues.push(new AlertQueue(new KafkaAlertTarget(deps.producer(), config.topic), queueOptions));
    deps.logger.info({ target: 'kafka', topic: config.topic, minLevel: config.minLevel }, 'alerts go to a Kafka topic');
  }
  return queues.length ? new AlertSink(queues, config.minLevel) : undefined;
}
