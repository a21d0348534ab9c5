import { type StatWatcher, unwatchFile, watchFile } from 'node:fs';
import { type ConfigChanges, configChanges, withLiveSettings } from '../config/configChanges.ts';
import type { Config } from '../config/configSchema.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';

export interface ConfigReloaderDeps {
  /** Re-reads and validates the config (file and environment); throws when it is invalid. */
  load: () => Readonly<Config>;
  /** The config running now. */
  initial: Readonly<Config>;
  /** Puts a config in force (between batches); resolves once it is. */
  apply: (config: Readonly<Config>, changes: ConfigChanges) => Promise<void> | void;
  logger: Logger;
  metrics?: Metrics;
}

/** `applied`: live settings changed and are in force; `unchanged`: none did; `refused`: the new config is invalid. */
export type ReloadResult = 'applied' | 'unchanged' | 'refused';

/**
 * Hot reload for `probewatch run`: re-reads and validates the config; a
 * valid one has its live settings (`LIVE_SETTINGS`) applied, the others are
 * reported as waiting for a restart; an invalid one is refused with a log
 * line naming the bad keys, and the running config stays. Reloads run one
 * at a time, in the order they were asked for.
 */
export class ConfigReloader {
  private current: Readonly<Config>;
  private queue: Promise<unknown> = Promise.resolve();
  private watched?: { file: string; listener: (curr: { mtimeMs: number; size: number }, prev: { mtimeMs: number; size: number }) => void };

  constructor(private readonly deps: ConfigReloaderDeps) {
    this.current = deps.initial;
  }

  /** The config in force. */
  get config(): Readonly<Config> {
    return this.current;
  }

  reload(trigger: string): Promise<ReloadResult> {
    const next = this.queue.then(() => this.reloadNow(trigger));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Also reloads whenever `file` changes (modification time or size, polled every `intervalMs`). */
  watch(file: string, intervalMs: number): void {
    const listener = (curr: { mtimeMs: number; size: number }, prev: { mtimeMs: number; size: number }) => {
      if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size) void this.reload('file changed');
    };
    // Polling, not fs.watch: editors and config-map updates replace the file, which an inotify watch on it would miss.
    const watcher: StatWatcher = watchFile(file, { interval: intervalMs, persistent: false }, listener);
    watcher.unref?.();
    this.watched = { file, listener };
    this.deps.logger.info({ file, intervalMs }, 'watching the config file for changes');
  }

  /** Stops watching; waits for a reload in progress. */
  async close(): Promise<void> {
    if (this.watched) unwatchFile(this.watched.file, this.watched.listener);
    this.watched = undefined;
    await this.queue;
  }

  private async reloadNow(trigger: string): Promise<ReloadResult> {
    const { logger, metrics } = this.deps;
    let next: Readonly<Config>;
    try {
      next = this.deps.load();
    } catch (err) {
      const reason = (err as Error).message.replace(/\n\s*/g, '; ');
      metrics?.configReloads.inc({ result: 'refused' });
      logger.error({ trigger, reason }, `config reload refused, the running config stays in force: ${reason}`);
      return 'refused';
    }
    const changes = configChanges(this.current, next);
    metrics?.configRestartPending.set(changes.restart.length);
    if (changes.restart.length) {
      logger.warn({ trigger, settings: changes.restart }, `config reload: restart needed for ${changes.restart.join(', ')} (cannot change while running; not applied)`);
    }
    if (changes.live.length === 0) {
      metrics?.configReloads.inc({ result: 'unchanged' });
      logger.info({ trigger }, 'config reload: no setting that applies live changed');
      return 'unchanged';
    }
    const effective = Object.freeze(withLiveSettings(this.current, next));
    try {
      await this.deps.apply(effective, changes);
    } catch (err) {
      // Valid by the schema, but the pipeline could not be built from it: the running config stays.
      const reason = (err as Error).message.replace(/\n\s*/g, '; ');
      metrics?.configReloads.inc({ result: 'refused' });
      logger.error({ trigger, reason, settings: changes.live }, `config reload refused, the running config stays in force: ${reason}`);
      return 'refused';
    }
    this.current = effective;
    metrics?.configReloads.inc({ result: 'applied' });
    logger.info({ trigger, settings: changes.live }, 'config reloaded');
    return 'applied';
  }
}
