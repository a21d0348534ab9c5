import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseEventLine } from '../../src/codec/ndjson.ts';
import { ProbewatchError } from '../../src/errors.ts';
import { lines, readRecordedBatches, readRecordedEvents } from '../../src/sources/recordedEvents.ts';

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

describe('readRecordedBatches', () => {
  const event = (id: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ event_id: id, ts: 1, api_key: 'k', model_id: 'm', input_hash: 'ab'.repeat(32), input_sketch: [0.5, 1], output_label: 0, output_probs: [0.25, 0.75], status: 200, latency_ms: 1, ...extra });
  // Valid events, blank lines, bad JSON, a bad hash, a non-object, a bad field, a line cut short, CRLF and lone CR ends.
  const text = [
    event('a'),
    '',
    'not json',
    event('b', { input_hash: 'XY' }),
    '[1,2]',
    event('c', { status: 'ok' }),
    '   ',
    event('d').slice(0, 40),
    event('é€'),
  ].join('\r\n') + '\r' + event('e') + '\n' + event('f');

  /** The same stream read line by line by readline and parsed one line at a time: what the records must be. */
  async function expected(): Promise<string[]> {
    const out: string[] = [];
    let position = 0;
    for await (const line of createInterface({ input: chunked(text, [1 << 16]), crlfDelay: Infinity })) {
      position++;
      if (line.trim() === '') continue;
      try {
        out.push(`${position}:${JSON.stringify(parseEventLine(line))}`);
      } catch (err) {
        const e = err as ProbewatchError;
        out.push(`${position}:${e.code}:${e.reason}:${e.message}`);
      }
    }
    return out;
  }

  it('gives the records, good and bad (code, reason, message, line), of a line-by-line parse, whatever the chunking', async () => {
    const want = await expected();
    expect(want.filter((x) => x.includes(':PW_')).length).toBe(5);
    for (const sizes of [[1], [3, 1], [17], [1 << 16]]) {
      const got: string[] = [];
      let batches = 0;
      for await (const items of readRecordedBatches('-', chunked(text, sizes))) {
        batches++;
        for (const item of items) got.push('event' in item ? `${item.position}:${JSON.stringify(item.event)}` : `${item.position}:${item.error.code}:${item.error.reason}:${item.error.message}`);
      }
      expect(got).toEqual(want);
      // One chunk: its complete lines at once, then the last line (it has no end).
      if (sizes[0] === 1 << 16) expect(batches).toBe(2);
    }
  });
});

