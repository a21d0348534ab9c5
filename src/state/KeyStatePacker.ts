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

/** Longest preset dictionary: zlib reads it at every call, so a long one costs time on every key packed. */
const DICTIONARY_BYTES = 8_192;

/**
 * Packs a quiet key's state into one byte string and back, losslessly:
 * V8's structured serialisation (what `structuredClone` does: typed
 * arrays, Maps, Sets, -0, NaN, `undefined` properties, any string survive,
 * which MessagePack's snapshot sections do not all), then raw deflate.
 * Deflate is what makes it small: the property names every key repeats
 * and the base64 vector blocks (6 bits a character) are most of a state's
 * bytes. A key's state alone is too short for deflate to find its
 * repeats, so the packer takes the first state it packs as a preset
 * dictionary for all the others (the names and shapes are everyone's).
 * The bytes never leave the process: a restart, a snapshot or another
 * packer need not read them.
 */
export class KeyStatePacker {
  private dictionary?: Buffer;
  private readonly partitionSets = new Map<string, readonly number[]>();

  pack(state: KeyState): PackedKeyState {
    const raw = serialize(state);
    this.dictionary ??= Buffer.from(raw.subarray(0, DICTIONARY_BYTES));
    const bytes = deflateRawSync(raw, { dictionary: this.dictionary });
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
    const raw = inflateRawSync(Buffer.from(packed.bytes, 'latin1'), { dictionary: this.dictionary });
    return deserialize(raw) as KeyState;
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
