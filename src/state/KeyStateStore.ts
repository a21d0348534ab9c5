import type { KeyFeedState } from '../baselines/KeyFeedState.ts';
import { initialLadderState, type LadderState } from '../policy/ResponseLadder.ts';

/** Everything probewatch keeps about one key; plain JSON so it can be snapshotted. */
export interface KeyState {
  key: string;
  eventsSeen: number;
  lastTs: number;
  /** Each detector's own state, by detector name. */
  detectors: Record<string, unknown>;
  /** Last scores and evidence, by detector name. */
  scores: Record<string, number>;
  evidence: Record<string, string[]>;
  risk: number;
  ladder: LadderState;
  /** The key's tenant, from its latest event that named one (per-tenant policy). */
  tenant?: string;
  /** With detectors in shadow mode: the risk with them counted, and the ladder it would drive. */
  shadowRisk?: number;
  shadowLadder?: LadderState;
  /** Ring of digests of the most recent event ids (`eventIdDigest`), to drop redelivered duplicates. */
  recentIds: string[];
  recentHead: number;
  /** Last source offset applied to this state, per partition: redelivered messages at or below it are skipped. */
  sourceOffsets?: Record<string, string>;
  /** What the model reference's feed gate remembers about the key (absent before its first answered query). */
  reference?: KeyFeedState;
}

/** An aggregate entity's state (a model's baselines, a tenant's or network's pooled views), as snapshotted. */
export interface AggregateSnapshot {
  entity: string;
  /** Event time the entity was last used. */
  seen: number;
  /** Each detector's state for the entity, by detector name. */
  detectors: Record<string, unknown>;
}

export interface EvictionListener {
  (key: string, reason: 'capacity' | 'idle'): void;
}

/**
 * Per-key state in memory, least recently used first. Bounded by a key
 * count; keys idle (in event time) past `idleEvictMs` are dropped on sweep.
 * Aggregate entities (IPs, prefixes, tenants) live beside keys.
 */
export class KeyStateStore {
  private readonly keys = new Map<string, KeyState>();
  private readonly idSets = new Map<string, Set<string>>();
  readonly aggregates = new Map<string, Record<string, unknown>>();
  private readonly aggregateSeen = new Map<string, number>();
  /** Entities used since the last `takeDirtyAggregates`. */
  private readonly dirtyAggregates = new Set<string>();

  constructor(
    private readonly options: { maxKeys: number; idleEvictMs: number; dedupWindow: number },
    private readonly onEvict: EvictionListener = () => {},
  ) {}

  get size(): number {
    return this.keys.size;
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  peek(key: string): KeyState | undefined {
    return this.keys.get(key);
  }

  /** The key's state, created if new, marked most recently used. */
  get(key: string): KeyState {
    let state = this.keys.get(key);
    if (state) {
      this.keys.delete(key);
    } else {
      state = { key, eventsSeen: 0, lastTs: 0, detectors: {}, scores: {}, evidence: {}, risk: 0, ladder: initialLadderState(), recentIds: [], recentHead: 0 };
      this.evictForCapacity();
    }
    this.keys.set(key, state);
    return state;
  }

  /** Puts a restored state in place (replacing any). */
  put(state: KeyState): void {
    this.keys.delete(state.key);
    this.idSets.delete(state.key);
    this.evictForCapacity();
    this.keys.set(state.key, state);
  }

  /** Records an event id; false when the key already saw it within the dedup window. */
  remember(state: KeyState, eventId: string): boolean {
    const n = this.options.dedupWindow;
    if (n === 0) return true;
    eventId = eventIdDigest(eventId);
    let ids = this.idSets.get(state.key);
    if (!ids) {
      ids = new Set(state.recentIds);
      this.idSets.set(state.key, ids);
    }
    if (ids.has(eventId)) return false;
    if (state.recentIds.length < n) state.recentIds.push(eventId);
    else {
      ids.delete(state.recentIds[state.recentHead]);
      state.recentIds[state.recentHead] = eventId;
      state.recentHead = (state.recentHead + 1) % n;
    }
    ids.add(eventId);
    return true;
  }

  aggregate(entity: string, ts: number): Record<string, unknown> {
    let a = this.aggregates.get(entity);
    if (!a) {
      a = {};
      this.aggregates.set(entity, a);
    }
    this.aggregateSeen.set(entity, ts);
    this.dirtyAggregates.add(entity);
    return a;
  }

  /**
   * The entities used since the last call whose names start with one of
   * `prefixes` (the others are forgotten as dirty), for snapshotting.
   */
  takeDirtyAggregates(prefixes: readonly string[]): AggregateSnapshot[] {
    const out: AggregateSnapshot[] = [];
    for (const entity of this.dirtyAggregates) {
      const detectors = this.aggregates.get(entity);
      if (detectors && prefixes.some((p) => entity.startsWith(p))) out.push({ entity, seen: this.aggregateSeen.get(entity) ?? 0, detectors });
    }
    this.dirtyAggregates.clear();
    return out;
  }

  /** Puts a restored aggregate in place unless the entity is already in memory (which is newer). */
  putAggregate(snapshot: AggregateSnapshot): boolean {
    if (this.aggregates.has(snapshot.entity)) return false;
    this.aggregates.set(snapshot.entity, snapshot.detectors);
    this.aggregateSeen.set(snapshot.entity, snapshot.seen);
    return true;
  }

  entries(): IterableIterator<KeyState> {
    return this.keys.values();
  }

  /** Drops keys and aggregates idle since before `now - idleEvictMs` (event time). */
  sweepIdle(now: number): number {
    const cutoff = now - this.options.idleEvictMs;
    let dropped = 0;
    for (const [key, state] of this.keys) {
      if (state.lastTs < cutoff) {
        this.drop(key);
        this.onEvict(key, 'idle');
        dropped++;
      }
    }
    for (const [entity, seen] of this.aggregateSeen) {
      if (seen < cutoff) {
        this.aggregates.delete(entity);
        this.aggregateSeen.delete(entity);
        this.dirtyAggregates.delete(entity);
      }
    }
    return dropped;
  }

  delete(key: string): void {
    this.drop(key);
  }

  private drop(key: string): void {
    this.keys.delete(key);
    this.idSets.delete(key);
  }

  private evictForCapacity(): void {
    while (this.keys.size >= this.options.maxKeys) {
      const oldest = this.keys.keys().next().value as string;
      this.drop(oldest);
      this.onEvict(oldest, 'capacity');
    }
  }
}

/**
 * A 52-bit digest of an event id, in base 36 (about 10 characters against
 * 36 for a UUID), which is what the dedup ring keeps: a key's snapshot
 * shrinks by some 7 kB at the default window of 256. Two 32-bit hashes
 * (FNV-1a, and a multiply-xor pass with MurmurHash2's constant), each
 * finished with an avalanche step; the chance that a new event is taken for one of
 * the last 256 is about 256 / 2^52 (6e-14) per event. Exact recovery after
 * a crash does not rest on it: source offsets do that (`sourceOffsets`).
 */
export function eventIdDigest(eventId: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < eventId.length; i++) {
    const c = eventId.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 13;
  }
  return ((avalanche(a) >>> 0) * 2 ** 20 + (avalanche(b) >>> 12)).toString(36);
}

/** MurmurHash3's 32-bit finaliser. */
function avalanche(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}
