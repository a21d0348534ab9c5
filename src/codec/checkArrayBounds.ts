import type avro from 'avsc';

/** The parts of an avsc type the scan reads (avsc types are frozen: their decoding cannot be replaced). */
interface ScannedType {
  typeName: string;
  itemsType?: ScannedType;
  valuesType?: ScannedType;
  types?: ScannedType[];
  fields?: { type: ScannedType }[];
  underlyingType?: ScannedType;
  size?: number;
}

class Overrun extends Error {}

/** A cursor over Avro binary data that reads only lengths and counts. */
class Cursor {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  /** A zig-zag varint (as a double: exact up to 2^53, which is all a length or count needs). */
  long(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new Overrun();
      const b = this.buf[this.pos++];
      n += (b & 0x7f) * scale;
      scale *= 128;
      if (!(b & 0x80)) return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
    }
    throw new Error('a varint longer than 10 bytes');
  }

  skip(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) throw new Overrun();
    this.pos += n;
  }
}

function scan(t: ScannedType, c: Cursor, maxItems: number): void {
  switch (t.typeName) {
    case 'null':
      return;
    case 'boolean':
      return c.skip(1);
    case 'int':
    case 'long':
    case 'enum':
      return void c.long();
    case 'float':
      return c.skip(4);
    case 'double':
      return c.skip(8);
    case 'bytes':
    case 'string':
      return c.skip(c.long());
    case 'fixed':
      return c.skip(t.size ?? 0);
    case 'record':
    case 'error':
      for (const f of t.fields ?? []) scan(f.type, c, maxItems);
      return;
    case 'union':
    case 'union:wrapped':
    case 'union:unwrapped': {
      const branch = t.types?.[c.long()];
      if (!branch) throw new Error('a union branch that does not exist');
      return scan(branch, c, maxItems);
    }
    case 'array':
    case 'map': {
      let total = 0;
      for (let n = c.long(); n !== 0; n = c.long()) {
        if (n < 0) {
          n = -n;
          c.long(); // block size in bytes
        }
        total += n;
        if (total > maxItems) throw new Error(`an ${t.typeName} claims ${total} items, more than ${maxItems}`);
        for (let i = 0; i < n; i++) {
          if (t.typeName === 'map') c.skip(c.long());
          scan((t.typeName === 'map' ? t.valuesType : t.itemsType)!, c, maxItems);
        }
      }
      return;
    }
    default:
      if (t.underlyingType) return scan(t.underlyingType, c, maxItems);
      throw new Error(`cannot scan Avro type ${t.typeName}`);
  }
}

/**
 * Checks, before avsc decodes `payload` as `writer`, that no array or map in
 * it claims more than `maxItems` items and that nothing runs past its end.
 * avsc trusts an array's block count: a few hostile bytes claiming billions
 * of items would make it allocate and loop until the process runs out of
 * memory, which no validation after decoding can prevent. Throws a plain
 * Error saying what is wrong (the codec turns it into `PW_DECODE_AVRO`).
 */
export function checkArrayBounds(writer: avro.Type, payload: Buffer, maxItems: number): void {
  try {
    scan(writer as unknown as ScannedType, new Cursor(payload), maxItems);
  } catch (err) {
    if (err instanceof Overrun) throw new Error('the payload ends before its data does');
    throw err;
  }
}
