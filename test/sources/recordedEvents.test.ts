import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { lines, readRecordedEvents } from '../../src/sources/recordedEvents.ts';

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** The same bytes cut into the given chunk sizes, as a byte stream. */
function chunked(text: string, sizes: number[]): Readable {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let i = 0, k = 0; i < bytes.length; k++) {
    const n = sizes[k % sizes.length];
    chunks.push(Buffer.from(bytes.subarray(i, i + n)));
    i += n;
  }
  return Readable.from(chunks, { objectMode: false });
}

describe('lines', () => {
  const texts = ['', 'a', 'a\n', 'a\nb', 'a\r\nb\r\n', 'a\rb\r', '\n\n', 'a\r\r\nb', 'é€\r\n€é', '\r', '\r\n', 'x\n\ry\r\n\nz'];
  for (const text of texts) {
    it(`splits ${JSON.stringify(text)} as readline does, whatever the chunking`, async () => {
      const expected = await collect(createInterface({ input: chunked(text, [1 << 16]), crlfDelay: Infinity }));
      for (const sizes of [[1], [2], [3, 1], [1 << 16]]) expect(await collect(lines(chunked(text, sizes)))).toEqual(expected);
    });
  }
});

describe('readRecordedEvents', () => {
  it('numbers records by line across CRLF and blank lines, and reports bad lines', async () => {
    const event = (id: string) =>
      JSON.stringify({ event_id: id, ts: 1, api_key: 'k', model_id: 'm', input_hash: 'ab'.repeat(32), input_sketch: [], output_label: 0, output_probs: [], status: 200, latency_ms: 1 });
    const stdin = chunked(`${event('a')}\r\n\r\nnot json\r\n${event('b')}`, [7]);
    const items = [];
    for await (const item of readRecordedEvents('-', stdin)) items.push('event' in item ? `${item.position}:${item.event.event_id}` : `${item.position}:${item.error.code}`);
    expect(items).toEqual(['1:a', '3:PW_DECODE_JSON', '4:b']);
  });
});
