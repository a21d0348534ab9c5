import { ProbewatchError } from '../errors.ts';
import type { KeyFeedState } from '../baselines/KeyFeedState.ts';
import { initialLadderState, type LadderState } from '../policy/ResponseLadder.ts';
import { KeyPauses } from './KeyPauses.ts';
import { KeyStatePacker, type PackedKeyState } from './KeyStatePacker.ts';
import type { SuccessionState } from './SuccessionState.ts';
import { DOUBLE_ZERO } from './doubleZero.ts';
import { refit } from './refit.ts';

/** Everything probewatch keeps about one key; plain JSON so it can be snapshotted. */
export interface KeyState {
  key: string;
  eventsSeen: number;
  lastTs: number;
  /** Each detector's own state, by detector name. */
  detectors: Record<string, unknown>;
  /** Last scores and evidence, by detector name (an empty list may be `NO_EVIDENCE`, shared by every key). */
  scores: Record<string, number>;
  evidence: Record<string, readonly string[]>;
  /** What fusion added to the last recorded scores (a risk held below throttle or truncate, group evidence withheld). */
  fusionNotes?: string[];
  risk: number;
  ladder: LadderState;
  /** The key's tenant, from its latest event that named one (per-tenant policy). */
  tenant?: string;
  /** With detectors in shadow mode: the risk with them counted, and the ladder it would drive. */
  shadowRisk?: number;
  shadowLadder?: LadderState;
  /**
   * Ring of digests of the most recent event ids (`eventIdDigest`), to drop redelivered duplicates.
   * Numbers, so the ring is one unboxed double array (older snapshots hold the digests as base-36 strings).
   */
  recentIds: number[];
  recentHead: number;
  /** Last source offset applied to this state, per partition: redelivered messages at or below it are skipped. */
  sourceOffsets?: Record<string, string>;
  /** Per detector, a digest of the settings its state was built under (absent in older snapshots: taken as current). */
  detectorSettings?: Record<string, string>;
  /** What the model reference's feed gate remembers about the key (absent before its first answered query). */
  reference?: KeyFeedState;
  /** The flagged key this one continues, or may (`KeySuccession`); absent for most keys. */
  succession?: SuccessionState;
}

/** A key's place on the ladder and its last scores. */
export type KeyStateSummary = Pick<KeyState, 'key' | 'risk' | 'scores'> & { ladder: Pick<LadderState, 'level'> };

/** The evidence of a quiet detector: one frozen empty list for every key, rather than one each. */
export const NO_EVIDENCE: readonly string[] = Object.freeze([]);

/** An aggregate entity's state (a model's baselines, a tenant's or network's pooled views), as snapshotted. */
/** How a snapshot store saves (`BatchProcessorDeps.snapshots`). */
export interface SaveOptions {
  /** A rewrite after the store lost its data: write everything given, and mark the store as holding it again. */
  full?: boolean;
}

export interface AggregateSnapshot {
  entity: string;
  /** Event time the entity was last used. */
  seen: number;
  /** Each detector's state for the entity, by detector name. */
  detectors: Record<string, unknown>;
}

/**
 * Why a key left memory: `capacity` (past `maxKeys`, the least recently used
 * key not in use), `idle` (no event for `idleEvictMs`), `unsaved` (a
 * capacity eviction of a key changed since its last snapshot, with a
 * snapshot store in use: its changes are lost, which `run` never lets
 * happen; counted so that it would show).
 */
export type EvictionReason = 'capacity' | 'idle' | 'unsaved';

export interface EvictionListener {
  (key: string, reason: EvictionReason): void;
}

/** An aggregate entity's kind: its name up to the first `:` (`ip`, `prefix`, `tenant`, `model`, `geo`). */
export function entityKind(entity: string): string {
  const i = entity.indexOf(':');
  return i < 0 ? entity : entity.slice(0, i);
}

/** Most aggregate entities held per kind; kinds not named take `other`. */
export type EntityCaps = Readonly<Record<string, number>> & { readonly other: number };

export interface KeyStateStoreOptions {
  maxKeys: number;
  idleEvictMs: number;
  dedupWindow: number;
  /**
   * A key with no event for this long (event time, against the latest event seen) is held packed
   * (`KeyStatePacker`) until its next use; a key that paused past it before, only once quiet well
   * past its usual pause (`KeyPauses`); 0 never packs. Without: never.
   */
  packAfterIdleMs?: number;
  /** Per kind of aggregate entity, the most held (least recently used evicted past it); unbounded without. */
  maxEntities?: EntityCaps;
}

/** Below this many remembered ids a key's ring grows at its exact length (a push reserves 16 spare slots in every quiet key's state). */
const EXACT_IDS = 16;

/**
 * A new key's state: every field from the start, in the interface's order
 * (the optional ones undefined until used, never deleted), and the fields
 * that hold event times and risks started on doubles (`DOUBLE_ZERO`), so
 * that every key's state has one shape.
 */
function newKeyState(key: string): KeyState {
  return {
    key,
    eventsSeen: 0,
    lastTs: DOUBLE_ZERO,
    detectors: {},
    scores: {},
    evidence: {},
    fusionNotes: undefined,
    risk: DOUBLE_ZERO,
    ladder: initialLadderState(),
    tenant: undefined,
    shadowRisk: undefined,
    shadowLadder: undefined,
    recentIds: [],
    recentHead: 0,
    sourceOffsets: undefined,
    detectorSettings: undefined,
    reference: undefined,
    succession: undefined,
  };
}

/**
 * Per-key state in memory, least recently used first. Bounded by a key
 * count; keys idle (in event time) past `idleEvictMs` are dropped on sweep.
 * Aggregate entities (IPs, prefixes, tenants) live beside keys.
 *
 * Keys in use (`pin`: the keys of the batch in hand) are never evicted: a
 * key evicted between its restore and its snapshot would come back empty
 * and its empty state would overwrite its snapshot. Past the cap the least
 * recently used key not in use goes; when every key held is in use a new
 * key is refused (`PW_CAPACITY`), never made room for by resetting another.
 */
export class KeyStateStore {
  /** Every key held, least recently used first: its live state, or its state packed while it is quiet. */
  private readonly keys = new Map<string, KeyState | PackedKeyState>();
  /** The keys held live (unpacked): where `packIdle` looks. */
  private readonly live = new Set<string>();
  private readonly packer = new KeyStatePacker();
  private readonly pauses: KeyPauses;
  /** Key → how many holders use it now. */
  private readonly pins = new Map<string, number>();
  /** Keys changed since their last snapshot (`markSaved`), tracked once a snapshot store is in use. */
  private readonly unsaved = new Set<string>();
  private tracksSaves = false;
  readonly aggregates = new Map<string, Record<string, unknown>>();
  private readonly aggregateSeen = new Map<string, number>();
  /** Per kind, its entities least recently used first (the order of eviction past the kind's cap). */
  private readonly byKind = new Map<string, Set<string>>();
  /** Entities used since the last `takeDirtyAggregates`. */
  private readonly dirtyAggregates = new Set<string>();
  /** The entity last added or moved to the end of its kind's order (one entity is used event after event). */
  private lastEntity: string | undefined;

  /**
   * @param freshDetectorState a fresh state of the named detector (its `initState`), or undefined for a
   *   detector not running: a key unpacked is refitted into fresh states (`refit`), so that it has the
   *   shapes live keys have. Without it, only the key's own record is.
   */
  constructor(
    private readonly options: KeyStateStoreOptions,
    private readonly onEvict: EvictionListener = () => {},
    private readonly onEvictEntity: (kind: string, reason: 'capacity' | 'idle') => void = () => {},
    private readonly freshDetectorState: (name: string) => unknown = () => undefined,
  ) {
    this.pauses = new KeyPauses(options.packAfterIdleMs ?? 0);
  }

  /** Aggregate entities held, per kind. */
  entityCounts(): Map<string, number> {
    return new Map([...this.byKind].map(([kind, names]) => [kind, names.size]));
  }

  get size(): number {
    return this.keys.size;
  }

  /** Most keys held in memory (`state.maxKeys`). */
  get capacity(): number {
    return this.options.maxKeys;
  }

  /** Marks `keys` in use (never evicted) until `unpin`; keys already held become the most recently used. */
  pin(keys: Iterable<string>): void {
    for (const key of keys) {
      this.pins.set(key, (this.pins.get(key) ?? 0) + 1);
      const state = this.keys.get(key);
      if (state) {
        this.keys.delete(key);
        this.keys.set(key, state);
      }
    }
  }

  unpin(keys: Iterable<string>): void {
    for (const key of keys) {
      const n = (this.pins.get(key) ?? 0) - 1;
      if (n > 0) this.pins.set(key, n);
      else this.pins.delete(key);
    }
  }

  /** From now on, keys changed and not yet `markSaved` are told apart on eviction (a snapshot store is in use). */
  trackSaves(): void {
    this.tracksSaves = true;
  }

  markChanged(key: string): void {
    if (this.tracksSaves) this.unsaved.add(key);
  }

  /** The states of `keys` are in the snapshot store. */
  markSaved(keys: Iterable<string>): void {
    for (const key of keys) this.unsaved.delete(key);
  }

  /** Keys changed since their last snapshot (with `trackSaves`): what the next snapshot must write (packed ones decoded, left packed). */
  unsavedStates(): KeyState[] {
    const out: KeyState[] = [];
    for (const key of this.unsaved) {
      const held = this.keys.get(key);
      if (held) out.push(this.read(held));
    }
    return out;
  }

  get unsavedCount(): number {
    return this.unsaved.size;
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  /** The key's live state (unpacked if it was packed; its place in the recency order kept), or undefined when not held. */
  peek(key: string): KeyState | undefined {
    const held = this.keys.get(key);
    if (held === undefined || !isPackedState(held)) return held;
    const state = this.unpack(held);
    this.keys.set(key, state);
    this.live.add(key);
    return state;
  }

  /** The key's live state, created if new, marked most recently used. */
  get(key: string): KeyState {
    const held = this.keys.get(key);
    let state: KeyState;
    if (held) {
      this.keys.delete(key);
      state = isPackedState(held) ? this.unpack(held) : held;
    } else {
      state = newKeyState(key);
      this.evictForCapacity();
    }
    this.keys.set(key, state);
    this.live.add(key);
    return state;
  }

  /** Puts a restored state in place (replacing any). */
  put(state: KeyState): void {
    this.keys.delete(state.key);
    this.evictForCapacity();
    this.keys.set(state.key, state);
    this.live.add(state.key);
  }

  /** Records that `key` had no event for `pauseMs` before its latest one (when it is next packed: `KeyPauses`). */
  notePause(key: string, pauseMs: number): void {
    this.pauses.note(key, pauseMs);
  }

  /**
   * Packs every live key not in use whose last event is older than its packing delay before
   * `now` (event time): `packAfterIdleMs`, or longer for a key that paused past it before
   * (`KeyPauses`); each stays packed, in its place in the recency order, until it is next
   * read. Returns how many were packed.
   */
  packIdle(now: number): number {
    if ((this.options.packAfterIdleMs ?? 0) <= 0) return 0;
    let packed = 0;
    for (const key of this.live) {
      const state = this.keys.get(key) as KeyState;
      if (state.lastTs >= now - this.pauses.packAfter(key) || this.pins.has(key)) continue;
      this.keys.set(key, this.packer.pack(state));
      this.live.delete(key);
      packed++;
    }
    return packed;
  }

  /** Whether the key is held packed. */
  isPacked(key: string): boolean {
    const held = this.keys.get(key);
    return held !== undefined && isPackedState(held);
  }

  /** Keys held packed. */
  get packedCount(): number {
    return this.keys.size - this.live.size;
  }

  private unpack(packed: PackedKeyState): KeyState {
    const state = refit(() => newKeyState(packed.key), this.packer.unpack(packed));
    for (const name in state.detectors) {
      if (this.freshDetectorState(name) !== undefined) state.detectors[name] = refit(() => this.freshDetectorState(name), state.detectors[name]);
    }
    // Quiet detectors share one frozen empty list (what `recordScores` writes), not one each.
    for (const name in state.evidence) if (state.evidence[name].length === 0) state.evidence[name] = NO_EVIDENCE;
    return state;
  }

  /** A held key's state to read: packed ones decoded, not made live (changes to it are lost). */
  private read(held: KeyState | PackedKeyState): KeyState {
    return isPackedState(held) ? this.unpack(held) : held;
  }

  /**
   * Records an event id; false when the key already saw it within the dedup window. The ring is
   * scanned, not mirrored in a Set: a scan of a few hundred doubles is cheap next to an event's
   * detectors, and a Set per active key cost more memory than all its detector state.
   */
  remember(state: KeyState, eventId: string): boolean {
    const n = this.options.dedupWindow;
    if (n === 0) return true;
    const digest = eventIdDigest(eventId);
    const ids = state.recentIds;
    if (ids.includes(digest)) return false;
    if (ids.length < n) {
      if (ids.length < EXACT_IDS) state.recentIds = ids.concat(digest);
      else ids.push(digest);
      // Pushes leave up to half again of spare slots; a full ring never grows, so it is copied to its exact length once.
      if (state.recentIds.length === n && n > EXACT_IDS) state.recentIds = state.recentIds.slice();
    } else {
      ids[state.recentHead] = digest;
      state.recentHead = (state.recentHead + 1) % n;
    }
    return true;
  }

  aggregate(entity: string, ts: number): Record<string, unknown> {
    let a = this.aggregates.get(entity);
    if (!a) {
      a = {};
      this.holdEntity(entity, a);
    } else if (entity !== this.lastEntity) {
      const names = this.byKind.get(entityKind(entity))!;
      names.delete(entity);
      names.add(entity);
      this.lastEntity = entity;
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

  /** Marks `entities` (all in memory without) dirty again: a save that failed, or a store that lost them. */
  markAggregatesDirty(entities?: Iterable<string>): void {
    for (const entity of entities ?? this.aggregates.keys()) if (this.aggregates.has(entity)) this.dirtyAggregates.add(entity);
  }

  /** Puts a restored aggregate in place unless the entity is already in memory (which is newer). */
  putAggregate(snapshot: AggregateSnapshot): boolean {
    if (this.aggregates.has(snapshot.entity)) return false;
    this.holdEntity(snapshot.entity, snapshot.detectors);
    this.aggregateSeen.set(snapshot.entity, snapshot.seen);
    return true;
  }

  /** Adds an entity, first evicting its kind's least recently used past the kind's cap. */
  private holdEntity(entity: string, detectors: Record<string, unknown>): void {
    const kind = entityKind(entity);
    let names = this.byKind.get(kind);
    if (!names) this.byKind.set(kind, (names = new Set()));
    const caps = this.options.maxEntities;
    const cap = caps ? (caps[kind] ?? caps.other) : Infinity;
    while (names.size >= cap && names.size > 0) {
      const oldest = names.values().next().value as string;
      this.dropEntity(oldest);
      this.onEvictEntity(kind, 'capacity');
    }
    names.add(entity);
    this.lastEntity = entity;
    this.aggregates.set(entity, detectors);
  }

  private dropEntity(entity: string): void {
    if (entity === this.lastEntity) this.lastEntity = undefined;
    this.aggregates.delete(entity);
    this.aggregateSeen.delete(entity);
    this.dirtyAggregates.delete(entity);
    this.byKind.get(entityKind(entity))?.delete(entity);
  }

  /** Every key's state to read, packed ones decoded one at a time and left packed: changes to those are lost (see `update`). */
  *entries(): IterableIterator<KeyState> {
    for (const held of this.keys.values()) yield this.read(held);
  }

  /** Applies `change` to every key's state, packed ones unpacked and packed again. */
  update(change: (state: KeyState) => void): void {
    for (const [key, held] of this.keys) {
      if (!isPackedState(held)) change(held);
      else {
        const state = this.unpack(held);
        change(state);
        this.keys.set(key, this.packer.pack(state));
      }
    }
  }

  /** What the per-key gauges read of every key (`KeyStateView`), packed ones without unpacking (their scores decoded when read). */
  *views(): IterableIterator<KeyStateSummary> {
    for (const held of this.keys.values()) yield isPackedState(held) ? this.packedView(held) : held;
  }

  private packedView(packed: PackedKeyState): KeyStateSummary {
    const unpack = () => this.unpack(packed);
    return {
      key: packed.key,
      risk: packed.risk,
      ladder: { level: packed.level },
      get scores() {
        return unpack().scores;
      },
    };
  }

  /** Every key held, with the partitions whose offsets its state includes. */
  *partitions(): IterableIterator<[string, readonly number[]]> {
    for (const [key, held] of this.keys) yield [key, isPackedState(held) ? held.partitions : this.packer.partitionsOf(held)];
  }

  /** Drops keys and aggregates idle since before `now - idleEvictMs` (event time); a key not yet snapshotted stays until it is. */
  sweepIdle(now: number): number {
    const cutoff = now - this.options.idleEvictMs;
    let dropped = 0;
    for (const [key, state] of this.keys) {
      if (state.lastTs < cutoff && !this.unsaved.has(key)) {
        this.drop(key);
        this.onEvict(key, 'idle');
        dropped++;
      }
    }
    for (const [entity, seen] of this.aggregateSeen) {
      if (seen < cutoff) {
        this.dropEntity(entity);
        this.onEvictEntity(entityKind(entity), 'idle');
      }
    }
    return dropped;
  }

  delete(key: string): void {
    this.drop(key);
  }

  private drop(key: string): void {
    this.keys.delete(key);
    this.live.delete(key);
    this.unsaved.delete(key);
    this.pauses.forget(key);
  }

  /** Makes room for one more key: the least recently used keys not in use go (pinned keys sit at the recent end). */
  private evictForCapacity(): void {
    while (this.keys.size >= this.options.maxKeys) {
      let victim: string | undefined;
      for (const key of this.keys.keys()) {
        if (!this.pins.has(key)) {
          victim = key;
          break;
        }
      }
      if (victim === undefined) {
        throw new ProbewatchError('PW_CAPACITY', `cannot hold another key: all ${this.keys.size} keys in memory (state.maxKeys) are in use by the batch in hand`);
      }
      const reason = this.unsaved.has(victim) ? 'unsaved' : 'capacity';
      this.drop(victim);
      this.onEvict(victim, reason);
    }
  }
}

function isPackedState(held: KeyState | PackedKeyState): held is PackedKeyState {
  return typeof (held as PackedKeyState).bytes === 'string';
}

/**
 * A 52-bit digest of an event id, as a number (exact in a double), which is
 * what the dedup ring keeps: 8 bytes against 36 characters for a UUID. Two
 * 32-bit hashes (FNV-1a, and a multiply-xor pass with MurmurHash2's
 * constant), each finished with an avalanche step; the chance that a new
 * event is taken for one of the last 256 is about 256 / 2^52 (6e-14) per
 * event. Exact recovery after a crash does not rest on it: source offsets
 * do that (`sourceOffsets`).
 */
export function eventIdDigest(eventId: string): number {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < eventId.length; i++) {
    const c = eventId.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 13;
  }
  return (avalanche(a) >>> 0) * 2 ** 20 + (avalanche(b) >>> 12);
}

/** The digests of a snapshot's dedup ring: numbers, or the base-36 strings older snapshots hold. */
export function digestsOf(ids: readonly (number | string)[]): number[] {
  return ids.map((id) => (typeof id === 'string' ? parseInt(id, 36) : id));
}

/** MurmurHash3's 32-bit finaliser. */
function avalanche(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}
