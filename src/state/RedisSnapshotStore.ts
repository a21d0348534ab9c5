import type { Redis } from 'ioredis';
import { ProbewatchError } from '../errors.ts';
import type { KeyState } from './KeyStateStore.ts';

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
    if (states.length === 0) return;
    const pipe = this.redis.pipeline();
    for (const s of states) {
      const value = JSON.stringify(s);
      if (this.options.ttlMs > 0) pipe.set(this.redisKey(s.key), value, 'PX', this.options.ttlMs);
      else pipe.set(this.redisKey(s.key), value);
    }
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipe.exec();
    } catch (cause) {
      throw new ProbewatchError('PW_STATE', `cannot save ${states.length} state snapshots: ${(cause as Error).message}`, { cause, retriable: true });
    }
    const failed = results?.find(([err]) => err) ?? (results ? undefined : [new Error('pipeline discarded')]);
    if (failed) {
      throw new ProbewatchError('PW_STATE', `cannot save state snapshots: ${failed[0]!.message}`, { cause: failed[0], retriable: true });
    }
  }
}
