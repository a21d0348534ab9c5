import type { Redis } from 'ioredis';
import { ProbewatchError } from '../errors.ts';
import type { AggregateSnapshot, KeyState } from './KeyStateStore.ts';
import { globEscape } from './redisGlob.ts';

export interface SnapshotStoreOptions {
  /** Prefix of every Redis key (config `redis.keyPrefix`); snapshots live at `${keyPrefix}state:${api_key}`. */
  keyPrefix: string;
  /** Snapshot time-to-live (config `state.snapshotTtlMs`); 0 keeps them forever. */
  ttlMs: number;
}

/**
 * Per-key state snapshots in Redis, as JSON strings, so whichever instance
 * owns a key's partition next (after a rebalance or a crash) carries on
 * from the last committed batch. Failures are retriable `PW_STATE` errors.
 */
export class RedisSnapshotStore {
  constructor(
    private readonly redis: Redis,
    private readonly options: SnapshotStoreOptions,
  ) {}

  redisKey(apiKey: string): string {
    return `${this.options.keyPrefix}state:${apiKey}`;
  }

  /** The saved states of `keys` (one MGET); keys never saved are absent from the map. */
  async load(keys: readonly string[]): Promise<Map<string, KeyState>> {
    const out = new Map<string, KeyState>();
    if (keys.length === 0) return out;
    let values: (string | null)[];
    try {
      values = await this.redis.mget(keys.map((k) => this.redisKey(k)));
    } catch (cause) {
      throw new ProbewatchError('PW_STATE', `cannot load ${keys.length} state snapshots: ${(cause as Error).message}`, { cause, retriable: true });
    }
    values.forEach((raw, i) => {
      if (raw === null) return;
      try {
        const state = JSON.parse(raw) as KeyState;
        if (state.key === keys[i]) out.set(keys[i], state);
      } catch {
        // An unreadable snapshot is treated as missing: the key starts afresh rather than blocking its partition.
      }
    });
    return out;
  }

  /** Writes the states in one pipeline; resolves once Redis acknowledged every write. */
  async save(states: readonly KeyState[]): Promise<void> {
    await this.write(states.map((s) => [this.redisKey(s.key), JSON.stringify(s)]), 'state snapshots');
  }

  aggregateKey(entity: string): string {
    return `${this.options.keyPrefix}agg:${entity}`;
  }

  /** Writes aggregate entities (`${keyPrefix}agg:${entity}`) in one pipeline, with the snapshot TTL. */
  async saveAggregates(aggregates: readonly AggregateSnapshot[]): Promise<void> {
    await this.write(aggregates.map((a) => [this.aggregateKey(a.entity), JSON.stringify(a)]), 'aggregate snapshots');
  }

  /**
   * Every saved aggregate entity (SCAN, then MGET per page). Called once when
   * an instance starts; an unreadable snapshot is skipped.
   */
  async loadAggregates(): Promise<AggregateSnapshot[]> {
    const prefix = this.aggregateKey('');
    const out: AggregateSnapshot[] = [];
    try {
      let cursor = '0';
      do {
        const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 1_000);
        cursor = next;
        if (keys.length === 0) continue;
        const values = await this.redis.mget(keys);
        values.forEach((raw, i) => {
          if (raw === null) return;
          try {
            const a = JSON.parse(raw) as AggregateSnapshot;
            if (a.entity === keys[i].slice(prefix.length) && typeof a.detectors === 'object') out.push(a);
          } catch {
            // Unreadable: the entity starts afresh.
          }
        });
      } while (cursor !== '0');
    } catch (cause) {
      throw new ProbewatchError('PW_STATE', `cannot load aggregate snapshots: ${(cause as Error).message}`, { cause, retriable: true });
    }
    return out;
  }

  private async write(entries: readonly [string, string][], what: string): Promise<void> {
    if (entries.length === 0) return;
    const pipe = this.redis.pipeline();
    for (const [key, value] of entries) {
      if (this.options.ttlMs > 0) pipe.set(key, value, 'PX', this.options.ttlMs);
      else pipe.set(key, value);
    }
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipe.exec();
    } catch (cause) {
      throw new ProbewatchError('PW_STATE', `cannot save ${entries.length} ${what}: ${(cause as Error).message}`, { cause, retriable: true });
    }
    const failed = results?.find(([err]) => err) ?? (results ? undefined : [new Error('pipeline discarded')]);
    if (failed) {
      throw new ProbewatchError('PW_STATE', `cannot save ${what}: ${failed[0]!.message}`, { cause: failed[0], retriable: true });
    }
  }
}
