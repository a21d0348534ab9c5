import { hash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ProbewatchError } from '../errors.ts';
import type { AggregateSnapshot, KeyState, SaveOptions } from './KeyStateStore.ts';
import { globEscape } from './redisGlob.ts';
import { SNAPSHOT_VERSION, VERSION_FIELD, decodeAggregate, decodeSections, encodeAggregate, encodeSections, sectionName } from './SnapshotCodec.ts';

export interface SnapshotStoreOptions {
  /** Prefix of every Redis key (config `redis.keyPrefix`); snapshots live at `${keyPrefix}snap:${api_key}`. */
  keyPrefix: string;
  /** Snapshot time-to-live (config `state.snapshotTtlMs`); 0 keeps them forever. */
  ttlMs: number;
}

/** What the store wrote since it was made (for benchmarks and logs). */
export interface SnapshotWriteStats {
  keys: number;
  sections: number;
  bytes: number;
}

/**
 * Per-key state snapshots in Redis, so whichever instance owns a key's
 * partition next (after a rebalance or a crash) carries on from the last
 * snapshot. Each key is a hash of binary sections (`SnapshotCodec`); a save
 * rewrites only the sections whose bytes changed since this store last
 * wrote or read them, in one MULTI so a key's sections and the offsets in
 * its `meta` never disagree. Snapshots of the older layout (one JSON string
 * at `${keyPrefix}state:${api_key}`) still load, and are removed when the
 * key is next saved. Failures are retriable `PW_STATE` errors.
 *
 * Skipping unchanged sections assumes Redis still holds what this store
 * wrote, which a Redis restarted without persistence does not. Each store
 * so keeps a marker key of its own (`${keyPrefix}snapepoch:<uuid>`),
 * written with its snapshots; every save checks it in the same Lua script
 * that writes, atomically, and writes nothing without it but throws
 * `PW_STATE_LOST`: the caller then saves everything it holds with `full`.
 */
export class RedisSnapshotStore {
  /** Per state object, a digest of each section as last written or read: what a save may skip. */
  private readonly written = new WeakMap<KeyState, Map<string, number>>();
  readonly stats: SnapshotWriteStats = { keys: 0, sections: 0, bytes: 0 };
  /** This store's marker: present while Redis holds every snapshot this store wrote or read. */
  readonly epochKey: string;
  /** The marker was set: from then on a save without it means Redis lost data. */
  private marked = false;

  constructor(
    private readonly redis: Redis,
    private readonly options: SnapshotStoreOptions,
  ) {
    this.epochKey = `${options.keyPrefix}snapepoch:${randomUUID()}`;
  }

  redisKey(apiKey: string): string {
    return `${this.options.keyPrefix}snap:${apiKey}`;
  }

  /** Where the JSON snapshots of the first layout lived. */
  legacyKey(apiKey: string): string {
    return `${this.options.keyPrefix}state:${apiKey}`;
  }

  /**
   * The saved states of `keys`, in one round trip (a pipeline of the hashes
   * and one MGET of the JSON layout, read for keys without a hash); keys
   * never saved are absent.
   */
  async load(keys: readonly string[]): Promise<Map<string, KeyState>> {
    const out = new Map<string, KeyState>();
    if (keys.length === 0) return out;
    try {
      const pipe = this.redis.pipeline();
      // Set before the reads: the sections read count as written (a save skips them) only while the marker stays.
      pipe.set(this.epochKey, '1', 'PX', this.epochTtlMs);
      for (const k of keys) pipe.hgetallBuffer(this.redisKey(k));
      // Most keys restored are new ones, in neither layout: asking for the old layout in the same pipeline saves a round trip.
      pipe.mget(keys.map((k) => this.legacyKey(k)));
      const [marker, ...results] = (await pipe.exec()) ?? [];
      if (marker?.[0]) throw marker[0];
      this.marked = true;
      const [legacyErr, legacy] = results[keys.length] ?? [new Error('pipeline discarded')];
      keys.forEach((key, i) => {
        const [err, hash] = results[i] ?? [new Error('pipeline discarded')];
        if (err) throw err;
        const fields = new Map(Object.entries(hash as Record<string, Buffer>));
        if (fields.size > 0) {
          const state = this.decode(key, fields);
          if (state) out.set(key, state);
          return;
        }
        if (legacyErr) throw legacyErr;
        const raw = (legacy as (string | null)[])[i];
        const state = raw === null ? undefined : parseJson<KeyState>(raw);
        if (state?.key === key) out.set(key, state);
      });
    } catch (cause) {
      throw new ProbewatchError('PW_STATE', `cannot load ${keys.length} state snapshots: ${(cause as Error).message}`, { cause, retriable: true });
    }
    return out;
  }

  /**
   * Writes the sections of `states` that changed (`full`: all of them), in
   * one script run, atomically; resolves once Redis acknowledged it, and
   * throws `PW_STATE_LOST` without writing when Redis lost this store's
   * marker (not `full`).
   */
  async save(states: readonly KeyState[], options: SaveOptions = {}): Promise<void> {
    if (states.length === 0 && !options.full) return;
    const tx = new ScriptWrite();
    const next: [KeyState, Map<string, number>][] = [];
    let sections = 0;
    let bytes = 0;
    for (const state of states) {
      const key = this.redisKey(state.key);
      const before = options.full ? undefined : this.written.get(state);
      const digests = new Map<string, number>();
      const changed: (string | Buffer)[] = [];
      for (const [field, value] of encodeSections(state)) {
        const digest = digestOf(value);
        digests.set(field, digest);
        if (before?.get(field) === digest) continue;
        changed.push(field, value);
        bytes += value.length;
      }
      if (!before) {
        // First write from this memory: whatever the hash held (a detector since dropped, another owner's sections) goes.
        tx.unlink(key, this.legacyKey(state.key));
        changed.push(VERSION_FIELD, SNAPSHOT_VERSION);
      } else {
        const gone = [...before.keys()].filter((f) => !digests.has(f));
        if (gone.length) tx.hdel(key, ...gone);
      }
      if (changed.length) tx.hset(key, ...changed);
      if (this.options.ttlMs > 0) tx.pexpire(key, this.options.ttlMs);
      sections += changed.length / 2;
      next.push([state, digests]);
    }
    await this.run(tx, options, `${states.length} state snapshots`);
    for (const [state, digests] of next) this.written.set(state, digests);
    this.stats.keys += states.length;
    this.stats.sections += sections;
    this.stats.bytes += bytes;
  }

  private decode(key: string, fields: Map<string, Buffer>): KeyState | undefined {
    let state: KeyState | undefined;
    try {
      state = fields.get(VERSION_FIELD)?.toString() === SNAPSHOT_VERSION ? decodeSections(fields) : undefined;
    } catch {
      // An unreadable snapshot is treated as missing: the key starts afresh rather than blocking its partition.
    }
    if (state?.key !== key) return undefined;
    this.written.set(state, new Map([...fields].filter(([f]) => f !== VERSION_FIELD).map(([f, v]) => [sectionName(f), digestOf(v)])));
    return state;
  }

  aggregateKey(entity: string): string {
    return `${this.options.keyPrefix}agg:${entity}`;
  }

  /** Writes aggregate entities (`${keyPrefix}agg:${entity}`) in one script run, with the snapshot TTL and the marker check of `save`. */
  async saveAggregates(aggregates: readonly AggregateSnapshot[], options: SaveOptions = {}): Promise<void> {
    if (aggregates.length === 0 && !options.full) return;
    const tx = new ScriptWrite();
    for (const a of aggregates) {
      const key = this.aggregateKey(a.entity);
      if (this.options.ttlMs > 0) tx.set(key, encodeAggregate(a), 'PX', this.options.ttlMs);
      else tx.set(key, encodeAggregate(a));
    }
    await this.run(tx, options, `${aggregates.length} aggregate snapshots`);
  }

  /** Runs the writes of `tx` after checking the marker (`full`: setting it instead), refreshing its TTL. */
  private async run(tx: ScriptWrite, options: SaveOptions, what: string): Promise<void> {
    let written: unknown;
    try {
      // Before the marker was first set this store wrote and read nothing, so nothing can have been lost.
      const check = this.marked && !options.full ? '0' : '1';
      written = await this.redis.eval(WRITE_IF_MARKED, 1, this.epochKey, check, this.epochTtlMs, ...tx.args);
    } catch (cause) {
      throw new ProbewatchError('PW_STATE', `cannot save ${what}: ${(cause as Error).message}`, { cause, retriable: true });
    }
    if (written !== 1) {
      throw new ProbewatchError('PW_STATE_LOST', `cannot save ${what}: Redis no longer holds this store's snapshots (${this.epochKey} missing)`, { retriable: false });
    }
    this.marked = true;
  }

  private get epochTtlMs(): number {
    return this.options.ttlMs > 0 ? Math.min(this.options.ttlMs, EPOCH_TTL_MS) : EPOCH_TTL_MS;
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
        const values = await this.redis.mgetBuffer(keys);
        values.forEach((raw, i) => {
          const a = raw === null ? undefined : decodeAggregate(raw);
          if (a?.entity === keys[i].slice(prefix.length) && typeof a.detectors === 'object') out.push(a);
        });
      } while (cursor !== '0');
    } catch (cause) {
      throw new ProbewatchError('PW_STATE', `cannot load aggregate snapshots: ${(cause as Error).message}`, { cause, retriable: true });
    }
    return out;
  }


}

/** JSON of the first snapshot layout; undefined when unreadable (the key starts afresh rather than blocking its partition). */
function parseJson<T>(raw: string): T | undefined {
  try {
    return JSON.parse(raw) as T;
  } catch {
    return undefined;
  }
}

/** 48 bits of a section's SHA-1: tells a changed section from an unchanged one (a miss would need a collision). */
function digestOf(bytes: Buffer): number {
  return hash('sha1', bytes, 'buffer').readUIntLE(0, 6);
}

/**
 * How long a store's marker outlives its last save or load at most: a
 * marker gone by age costs one full rewrite, and the markers of stores
 * that only read (explain) or stopped do not linger.
 */
const EPOCH_TTL_MS = 24 * 3_600_000;

/**
 * KEYS[1] the store's marker; ARGV[1] '1' to set it (a full rewrite), '0'
 * to require it; ARGV[2] its TTL in ms; then commands, each as its name,
 * its argument count and its arguments. Returns 0 without writing when the
 * marker is required and missing, 1 once everything is written.
 */
const WRITE_IF_MARKED = `
if ARGV[1] == '0' and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local i = 3
while i <= #ARGV do
  local n = tonumber(ARGV[i + 1])
  redis.call(ARGV[i], unpack(ARGV, i + 2, i + 1 + n))
  i = i + 2 + n
end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
return 1
`;

/** Commands for WRITE_IF_MARKED, with the names of the MULTI they replace. */
class ScriptWrite {
  readonly args: (string | number | Buffer)[] = [];
  private add(name: string, args: (string | number | Buffer)[]): this {
    this.args.push(name, args.length, ...args);
    return this;
  }
  unlink(...keys: string[]) {
    return this.add('UNLINK', keys);
  }
  hdel(key: string, ...fields: string[]) {
    return this.add('HDEL', [key, ...fields]);
  }
  hset(key: string, ...fieldsAndValues: (string | Buffer)[]) {
    return this.add('HSET', [key, ...fieldsAndValues]);
  }
  pexpire(key: string, ms: number) {
    return this.add('PEXPIRE', [key, ms]);
  }
  set(key: string, value: Buffer, ...options: (string | number)[]) {
    return this.add('SET', [key, value, ...options]);
  }
}
