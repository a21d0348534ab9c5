import avro from 'avsc';
import type { InferenceEvent } from '../contract.ts';
import { ProbewatchError } from '../errors.ts';
import { checkArrayBounds } from './checkArrayBounds.ts';
import { frame, unframe } from './confluentFraming.ts';
import { schemaType } from './schemas.ts';
import { DEFAULT_EVENT_LIMITS, type EventLimits, validateEvent } from './validateEvent.ts';

/** Schema id this build writes with when no registry assigns one. */
export const DEFAULT_EVENT_SCHEMA_ID = 1;

/** Most items any array may claim while decoding; the stricter per-field limits are validation's (with their reasons). */
const MAX_DECODED_ITEMS = 65_536;

/**
 * Encodes and decodes InferenceEvents as Confluent-framed Avro. Writer
 * schemas are looked up by id; events written with an older or newer schema
 * are resolved into the reader schema by Avro's resolution rules, so new
 * optional fields never break old consumers.
 */
export class AvroEventCodec {
  readonly readerType: avro.Type;
  readonly writerId: number;
  private readonly writers = new Map<number, avro.Type>();
  private readonly resolvers = new Map<number, avro.Resolver | null>();

  private readonly limits?: Readonly<EventLimits>;
  private readonly maxItems: number;

  constructor(options: { readerType?: avro.Type; writerId?: number; knownWriters?: Map<number, avro.Type>; limits?: Readonly<EventLimits> } = {}) {
    this.limits = options.limits;
    this.readerType = options.readerType ?? schemaType('InferenceEvent');
    const limits = options.limits ?? DEFAULT_EVENT_LIMITS;
    this.maxItems = Math.max(MAX_DECODED_ITEMS, limits.maxSketchWidth, limits.maxClasses);
    this.writerId = options.writerId ?? DEFAULT_EVENT_SCHEMA_ID;
    this.writers.set(this.writerId, this.readerType);
    for (const [id, type] of options.knownWriters ?? []) this.writers.set(id, type);
  }

  /** Registers the writer schema behind a schema id (e.g. fetched from a registry). */
  registerWriter(id: number, type: avro.Type): void {
    this.writers.set(id, type);
    this.resolvers.delete(id);
  }

  encode(event: InferenceEvent): Buffer {
    return frame(this.writerId, this.readerType.toBuffer(event));
  }

  decode(bytes: Buffer): InferenceEvent {
    const { schemaId, payload } = unframe(bytes);
    const resolver = this.resolverFor(schemaId);
    let value: Record<string, unknown>;
    try {
      checkArrayBounds(this.writers.get(schemaId)!, payload, this.maxItems);
      value = resolver ? this.readerType.fromBuffer(payload, resolver) : this.readerType.fromBuffer(payload);
    } catch (cause) {
      throw new ProbewatchError('PW_DECODE_AVRO', `payload is not a valid InferenceEvent: ${(cause as Error).message}`, { cause });
    }
    return validateEvent(value, this.limits);
  }

  private resolverFor(id: number): avro.Resolver | null {
    if (this.resolvers.has(id)) return this.resolvers.get(id)!;
    const writer = this.writers.get(id);
    if (!writer) throw new ProbewatchError('PW_UNKNOWN_SCHEMA', `schema id ${id} is not known to this reader`);
    const resolver = writer === this.readerType ? null : this.readerType.createResolver(writer);
    this.resolvers.set(id, resolver);
    return resolver;
  }
}
