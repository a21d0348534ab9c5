import { deserialize, serialize } from 'node:v8';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Level } from '../contract.ts';
import { digestPlanes, digestsFromPlanes } from './digestPlanes.ts';
import type { KeyState } from './KeyStateStore.ts';

/** A key held packed: its state as one compressed byte string, with what scans of every key read without unpacking it. */
export interface PackedKeyState {
  readonly key: string;
  /** The state's bytes, one byte a character (a one-byte string: no slack, no backing store outside the heap). */
  readonly bytes: string;
  readonly lastTs: number;
  readonly risk: number;
  readonly level: Level;
  /** The partitions its `sourceOffsets` name (shared between keys). */
  readonly partitions: readonly number[];
}

/**
 * Longest state taken as the preset dictionary: a quiet key's (a 3-event key
 * serialises to about 7.5 kB), whose every part finds its like in other
 * keys. A long-lived key's state is mostly its own vectors, and zlib reads
 * the dictionary at every call.
 */
const DICTIONARY_BYTES = 8_192;
/**
 * Longest state deflated over the quiet dictionary. A longer one is mostly
 * the key's own vectors, and deflate takes about a quarter of it at any
 * level: it is deflated at the fastest level, which takes as much within 1%
 * (benchmarks/RESULTS.md, "Session 14, bytes per active key"), over a
 * dictionary of its own: the first long state packed, whose names and
 * shapes every long state repeats.
 */
const LONG_STATE_BYTES = 16_384;
const LONG_STATE_LEVEL = 1;
/** Deflate's window: the most of a dictionary it reads (its end). */
const WINDOW_BYTES = 32_768;
/** First byte of the packed bytes: deflated without a dictionary (before one was taken), with the quiet one, or with the long one. */
const DEFLATED = 1;
const WITH_DICTIONARY = 2;
const WITH_LONG_DICTIONARY = 3;
/** Fewest remembered event ids packed as byte planes (`digestPlanes`); a quiet key's few stay an array, as in the dictionary. */
const PLANE_IDS = 64;

/**
 * Packs a quiet key's state into one byte string and back, losslessly:
 * V8's structured serialisation (what `structuredClone` does: typed
 * arrays, Maps, Sets, -0, NaN, `undefined` properties, any string survive,
 * which MessagePack's snapshot sections do not all), then raw deflate.
 * Deflate is what makes it small: the property names every key repeats
 * and the base64 vector blocks (6 bits a character) are most of a state's
 * bytes. A long dedup ring goes in as byte planes (`digestPlanes`). A key's state alone is too short for deflate to find its
 * repeats, so the packer takes the first quiet-sized state it packs as a
 * preset dictionary for all it packs after (the names and shapes are
 * everyone's), and the first long state as the dictionary of long ones.
 * The bytes never leave the process: a restart, a snapshot or another
 * packer need not read them.
 */
export class KeyStatePacker {
  private dictionary?: Buffer;
  /** The end of the first long state packed (`LONG_STATE_BYTES`): the dictionary of long states packed after it. */
  private longDictionary?: Buffer;
  private readonly partitionSets = new Map<string, readonly number[]>();

  pack(state: KeyState): PackedKeyState {
    // A state handed in without a ring (a partial one, as some tests pack) packs as before.
    const ids = state.recentIds as number[] | undefined;
    const planes = ids && ids.length >= PLANE_IDS ? digestPlanes(ids) : undefined;
    const raw = serialize(planes ? { ...state, recentIds: planes } : state);
    if (!this.dictionary && raw.length <= DICTIONARY_BYTES) this.dictionary = Buffer.from(raw);
    const long = raw.length > LONG_STATE_BYTES;
    const bytes =
      long && this.longDictionary ? Buffer.concat([Buffer.of(WITH_LONG_DICTIONARY), deflateRawSync(raw, { level: LONG_STATE_LEVEL, dictionary: this.longDictionary })])
      : long ? Buffer.concat([Buffer.of(DEFLATED), deflateRawSync(raw, { level: LONG_STATE_LEVEL })])
      : this.dictionary ? Buffer.concat([Buffer.of(WITH_DICTIONARY), deflateRawSync(raw, { dictionary: this.dictionary })])
      : Buffer.concat([Buffer.of(DEFLATED), deflateRawSync(raw)]);
    if (long && !this.longDictionary) this.longDictionary = Buffer.from(raw.subarray(Math.max(0, raw.length - WINDOW_BYTES)));
    return {
      key: state.key,
      bytes: bytes.toString('latin1'),
      lastTs: state.lastTs,
      risk: state.risk,
      level: state.ladder.level,
      partitions: this.partitionsOf(state),
    };
  }

  unpack(packed: PackedKeyState): KeyState {
    const bytes = Buffer.from(packed.bytes, 'latin1');
    const body = bytes.subarray(1);
    const raw =
      bytes[0] === WITH_DICTIONARY ? inflateRawSync(body, { dictionary: this.dictionary })
      : bytes[0] === WITH_LONG_DICTIONARY ? inflateRawSync(body, { dictionary: this.longDictionary })
      : inflateRawSync(body);
    const state = unboxed(deserialize(raw)) as KeyState;
    if (state.recentIds instanceof Uint8Array) state.recentIds = digestsFromPlanes(state.recentIds);
    return state;
  }

  /** The partitions of `state`'s source offsets, one frozen list per distinct set. */
  partitionsOf(state: KeyState): readonly number[] {
    const names = state.sourceOffsets ? Object.keys(state.sourceOffsets) : [];
    const id = names.join(',');
    let set = this.partitionSets.get(id);
    if (!set) this.partitionSets.set(id, (set = Object.freeze(names.map(Number))));
    return set;
  }
}

/**
 * `value` with its arrays of numbers rebuilt as the detectors built them,
 * at their exact length. V8's deserialiser makes every array a generic one,
 * each double boxed on its own: slower for the detectors' arithmetic (their
 * code then sees two kinds of array) and bigger. Its typed arrays are views into the bytes
 * decoded, so each would keep the whole packed state alive: they are
 * copied out. Holes stay holes: an array with one is not
 * all numbers. Set members are left as they are (replacing one would move
 * it). An object met twice (shared, or a cycle) is walked once, and an
 * array shared between two places stays one array.
 */
function unboxed(value: unknown, done = new Map<object, unknown>()): unknown {
  if (typeof value !== 'object' || value === null || value instanceof Set) return value;
  if (done.has(value)) return done.get(value);
  if (ArrayBuffer.isView(value)) {
    const own = ownCopy(value);
    done.set(value, own);
    return own;
  }
  done.set(value, value);
  if (Array.isArray(value)) {
    let numbers = true;
    for (let i = 0; i < value.length; i++) {
      const x: unknown = value[i];
      if (typeof x === 'number') continue;
      numbers = false;
      if (typeof x === 'object' && x !== null) value[i] = unboxed(x, done);
    }
    if (!numbers || value.length === 0) return value;
    const out: number[] = [];
    for (let i = 0; i < value.length; i++) out.push(value[i] as number);
    // Pushes leave up to half again plus 16 slots spare; the copy holds exactly its numbers, of the kind the pushes gave.
    const exact = out.slice();
    done.set(value, exact);
    return exact;
  }
  if (value instanceof Map) {
    for (const [k, x] of value) if (typeof x === 'object' && x !== null) value.set(k, unboxed(x, done));
    return value;
  }
  const record = value as Record<string, unknown>;
  for (const k in record) {
    const x = record[k];
    if (typeof x !== 'object' || x === null) continue;
    const y = unboxed(x, done);
    // An own `__proto__` key is a property like any other: assigning to it would set the prototype.
    if (y !== x) Object.defineProperty(record, k, { value: y, writable: true, enumerable: true, configurable: true });
  }
  return value;
}

/** `view` over a buffer of its own, exactly its bytes (the same view when it has one already). */
function ownCopy(view: ArrayBufferView): ArrayBufferView {
  if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) return view;
  const bytes = view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
  if (Buffer.isBuffer(view)) return Buffer.from(bytes);
  if (view instanceof DataView) return new DataView(bytes);
  const TypedArray = view.constructor as new (buffer: ArrayBufferLike) => ArrayBufferView;
  return new TypedArray(bytes);
}
