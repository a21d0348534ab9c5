import { describe, expect, it } from 'vitest';
import { ReadAhead } from '../../src/sources/ReadAhead.ts';
import type { RecordedChunk, RecordedItem } from '../../src/sources/recordedEvents.ts';

/** Chunks of `sizes` records each, counting how many were decoded and how many read from the source. */
function source(sizes: number[]) {
  const seen = { read: 0, decoded: 0, closed: false };
  async function* chunks(): AsyncGenerator<RecordedChunk> {
    try {
      let position = 0;
      for (const size of sizes) {
        const first = position;
        position += size;
        seen.read++;
        let items: RecordedItem[] | undefined;
        yield {
          size,
          items: () => {
            if (items) return items;
            seen.decoded++;
            return (items = Array.from({ length: size }, (_, i) => ({ error: new Error('x') as never, position: first + i + 1 })));
          },
        };
      }
    } finally {
      seen.closed = true;
    }
  }
  return { seen, chunks: chunks() };
}

async function positions(reader: ReadAhead, fillEvery = 0): Promise<number[]> {
  const out: number[] = [];
  for (let chunk = await reader.next(); chunk; chunk = await reader.next()) {
    for (const item of chunk.items()) out.push(item.position);
    if (fillEvery) {
      await reader.fill(fillEvery);
      reader.decodeAhead();
    }
  }
  return out;
}

describe('ReadAhead', () => {
  it('hands over the records in order, however far ahead it read and decoded', async () => {
    const sizes = [3, 1, 4, 1, 5, 9, 2, 6];
    const plain = await positions(new ReadAhead(source(sizes).chunks));
    expect(plain).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    for (const n of [1, 5, 12, 100]) expect(await positions(new ReadAhead(source(sizes).chunks), n)).toEqual(plain);
  });

  it('reads until the records asked for wait, decodes only those read, each chunk once', async () => {
    const { seen, chunks } = source([2, 2, 2, 2, 2]);
    const reader = new ReadAhead(chunks);
    const first = await reader.next();
    expect(seen.read).toBe(1);
    await reader.fill(3);
    expect(seen.read).toBe(3);
    reader.decodeAhead();
    expect(seen.decoded).toBe(2);
    first!.items();
    const second = await reader.next();
    expect(second!.items()).toBe(second!.items());
    expect(seen.decoded).toBe(3);
    await reader.fill(100);
    expect(seen.read).toBe(5);
  });

  it('closes its source when stopped early', async () => {
    const { seen, chunks } = source([1, 1, 1]);
    const reader = new ReadAhead(chunks);
    await reader.next();
    await reader.close();
    expect(seen.closed).toBe(true);
    expect(await reader.next()).toBeUndefined();
  });
});
