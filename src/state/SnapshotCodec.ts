import { Packr } from 'msgpackr';
import { type AggregateSnapshot, digestsOf, type KeyState } from './KeyStateStore.ts';

/** Version of the sectioned binary layout, stored in each snapshot's `v` field. */
export const SNAPSHOT_VERSION = '1';

/** Field of the layout version in a snapshot hash. */
export const VERSION_FIELD = 'v';

/**
 * MessagePack (msgpackr): detectors own their state's shape, so the format
 * is schemaless; `moreTypes` keeps typed arrays, Maps and Sets as such
 * (JSON turned them into plain objects), and properties holding
 * `undefined` are left out as JSON.stringify leaves them out. Numbers
 * keep all 64 bits, and NaN stays NaN (JSON wrote null).
 */
const packr = new Packr({ useRecords: false, moreTypes: true, skipValues: [undefined] } as ConstructorParameters<typeof Packr>[0]);

/** One section's bytes: any detector state or part of a key state, as a snapshot writes it. */
export function encodeSection(value: unknown): Buffer {
  return packr.pack(value);
}

/** A section's value back from its bytes (typed arrays come back as arrays of their own, exactly sized). */
export function decodeSection(bytes: Buffer): unknown {
  return packr.unpack(bytes);
}

const DETECTOR = 'd:';
const IDS = 'ids';
const META = 'meta';
const REFERENCE = 'ref';

/**
 * A KeyState cut into sections, each encoded on its own so that a snapshot
 * rewrites only the sections that changed: `meta` (counts, scores, ladder,
 * offsets), `ids` (the dedup ring), `ref` (the feed gate) and one
 * `d:<name>` per detector.
 */
export function encodeSections(state: KeyState): Map<string, Buffer> {
  const { detectors, recentIds, recentHead, reference, ...meta } = state;
  const out = new Map<string, Buffer>([[META, packr.pack(meta)]]);
  if (recentIds.length > 0) out.set(IDS, packr.pack([recentIds, recentHead]));
  if (reference !== undefined) out.set(REFERENCE, packr.pack(reference));
  for (const name in detectors) out.set(sectionName(DETECTOR + name), encodeSection(detectors[name]));
  return out;
}

const names = new Map<string, string>();

/** One string per section name, however often it is built or read back (a per-key table of sections then costs no copies). */
export function sectionName(field: string): string {
  let name = names.get(field);
  if (name === undefined) names.set(field, (name = field));
  return name;
}

/** The KeyState of a snapshot's sections; undefined without a `meta` section. */
export function decodeSections(fields: ReadonlyMap<string, Buffer>): KeyState | undefined {
  const meta = fields.get(META);
  if (!meta) return undefined;
  const state = packr.unpack(meta) as KeyState;
  state.detectors = {};
  state.recentIds = [];
  state.recentHead = 0;
  for (const [field, bytes] of fields) {
    if (field.startsWith(DETECTOR)) state.detectors[field.slice(DETECTOR.length)] = decodeSection(bytes);
    else if (field === IDS) {
      const [ids, head] = packr.unpack(bytes) as [(number | string)[], number];
      state.recentIds = digestsOf(ids);
      state.recentHead = head;
    }
    else if (field === REFERENCE) state.reference = packr.unpack(bytes) as KeyState['reference'];
  }
  return state;
}

/** An aggregate entity's snapshot, as one MessagePack map. */
export function encodeAggregate(snapshot: AggregateSnapshot): Buffer {
  return packr.pack(snapshot);
}

/**
 * An aggregate entity's snapshot, binary or of the first layout (JSON text,
 * which starts with `{`, a byte no MessagePack map starts with); undefined
 * when unreadable.
 */
export function decodeAggregate(bytes: Buffer): AggregateSnapshot | undefined {
  try {
    return (bytes[0] === 0x7b ? JSON.parse(bytes.toString('utf8')) : packr.unpack(bytes)) as AggregateSnapshot;
  } catch {
    return undefined;
  }
}
