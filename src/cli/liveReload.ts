import type { Config } from '../config/configSchema.ts';
import { detectionConfigHash, loadConfig } from '../config/loadConfig.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { BatchProcessor } from '../pipeline/BatchProcessor.ts';
import { ConfigReloader } from '../pipeline/ConfigReloader.ts';
import type { DetectionPipeline } from '../pipeline/DetectionPipeline.ts';
import type { AlertSink } from '../sinks/AlertSink.ts';

export interface LiveReloadOptions {
  /** The config file `run` was started with (none: embedded defaults and the environment). */
  file?: string;
  env: Record<string, string | undefined>;
  config: Readonly<Config>;
  processor: BatchProcessor;
  pipeline: DetectionPipeline;
  alerts?: AlertSink;
  logger: Logger;
  metrics: Metrics;
}

/** Publishes the detection config hash (`probewatch_config_info`), replacing the previous one. */
export function publishConfigHash(metrics: Metrics, config: Readonly<Config>): string {
  const sha256 = detectionConfigHash(config);
  metrics.configInfo.reset();
  metrics.configInfo.set({ sha256 }, 1);
  return sha256;
}

/**
 * Hot reload for `probewatch run`: SIGHUP, and changes to the config file
 * when `reload.watch` is on, re-read the file with the same environment; a
 * valid config is swapped in between batches (detectors, fusion, ladder,
 * log level, alert level), the hash metric follows.
 */
export function startLiveReload(o: LiveReloadOptions): { reloader: ConfigReloader; close(): Promise<void> } {
  const reloader = new ConfigReloader({
    initial: o.config,
    load: () => loadConfig(o.file, o.env),
    apply: (next) =>
      o.processor.betweenBatches(() => {
        const reset = o.pipeline.reconfigure(next);
        o.logger.level = next.logLevel;
        o.alerts?.setMinLevel(next.alerts.minLevel);
        const sha256 = publishConfigHash(o.metrics, next);
        o.logger.info({ detectionConfigSha256: sha256, detectorsReset: reset }, 'new config in force');
      }),
    logger: o.logger,
    metrics: o.metrics,
  });
  const onHangup = () => void reloader.reload('SIGHUP');
  process.on('SIGHUP', onHangup);
  if (o.file && o.config.reload.watch) reloader.watch(o.file, o.config.reload.watchIntervalMs);
  return {
    reloader,
    async close() {
      process.off('SIGHUP', onHangup);
      await reloader.close();
    },
  };
}
