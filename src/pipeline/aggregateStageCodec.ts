import { Packr } from 'msgpackr';
import type { AggregateFact, GroupReading } from '../../detectors/shared/aggregateFacts.ts';

/** MessagePack as for snapshots (`SnapshotCodec`): all 64 bits of each number, `undefined` fields left out. */
const packr = new Packr({ useRecords: false, moreTypes: true, skipValues: [undefined] } as ConstructorParameters<typeof Packr>[0]);

export const encodeStageValue = (value: AggregateFact | GroupReading | object): Buffer => packr.pack(value);

export function decodeStageValue<T>(bytes: Buffer): T {
  return packr.unpack(bytes) as T;
}

/** Message key of an entity's reading for one model (the evidence topic is compacted by it). */
export function readingSlot(entity: string, model: string): string {
  return `${entity}\u0000${model}`;
}
