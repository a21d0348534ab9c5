import { deserialize, serialize } from 'node:v8';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Level } from '../contract.ts';
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
/** First byte of the packed bytes: deflated without a dictionary (before one was taken), or with it. */
const PLAIN = 0;
const WITH_DICTIONARY = 1;

/**
 * Packs a quiet key's state into one byte string and back, losslessly:
 * V8's structured serialisation (what `structuredClone` does: typed
 * arrays, Maps, Sets, -0, NaN, `undefined` properties, any string survive,
 * which MessagePack's snapshot sections do not all), then raw deflate.
 * Deflate is what makes it small: the property names every key repeats
 * and the base64 vector blocks (6 bits a character) are most of a state's
 * bytes. A key's state alone is too short for deflate to find its
 * repeats, so the packer takes the first quiet-sized state it packs as a
 * preset dictionary for all it packs after (the names and shapes are
 * everyone's).
 * The bytes never leave the process: a restart, a snapshot or another
 * packer need not read them.
 */
export class KeyStatePacker {
  private dictionary?: Buffer;
  private readonly partitionSets = new Map<string, readonly number[]>();

  pack(state: KeyState): PackedKeyState {
    const raw = serialize(state);
    if (!this.dictionary && raw.length <= DICTIONARY_BYTES) this.dictionary = Buffer.from(raw);
    const deflated = this.dictionary ? deflateRawSync(raw, { dictionary: this.dictionary }) : deflateRawSync(raw);
    const bytes = Buffer.concat([Buffer.of(this.dictionary ? WITH_DICTIONARY : PLAIN), deflated]);
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
    const deflated = bytes.subarray(1);
    return deserialize(bytes[0] === WITH_DICTIONARY ? inflateRawSync(deflated, { dictionary: this.dictionary }) : inflateRawSync(deflated)) as KeyState;
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
