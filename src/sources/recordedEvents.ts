import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import avro from 'avsc';
import type { InferenceEvent } from '../contract.ts';
import { ProbewatchError } from '../errors.ts';
import { parseEventLine } from '../codec/ndjson.ts';
import { type EventLimits, validateEvent } from '../codec/validateEvent.ts';

/** One item of a recorded stream: an event, or why the record at `position` was skipped. */
export type RecordedItem = { event: InferenceEvent; position: number } | { error: ProbewatchError; position: number };

const AVRO_MAGIC = Buffer.from('Obj\x01', 'latin1');

/** Reads the first bytes of a stream and puts them back, to sniff its format. */
async function peek(stream: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  while (size < n && !stream.readableEnded) {
    const chunk = stream.read() as Buffer | null;
    if (chunk !== null) {
      chunks.push(chunk);
      size += chunk.length;
      continue;
    }
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        stream.off('readable', done).off('end', done).off('error', fail);
        resolve();
      };
      const fail = (err: Error) => {
        stream.off('readable', done).off('end', done).off('error', fail);
        reject(err);
      };
      stream.on('readable', done).on('end', done).on('error', fail);
    });
  }
  const head = Buffer.concat(chunks);
  if (head.length) stream.unshift(head);
  return head.subarray(0, n);
}

/**
 * Splits a stream's text into lines as `readline` with `crlfDelay: Infinity`
 * splits them (`\n`, `\r\n` and a lone `\r` each end a line; a last line
 * without an end counts), a chunk at a time: no event or promise per line.
 */
class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private buf = '';

  /** The lines `chunk` completes. */
  push(chunk: Buffer | string): string[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    if (this.buf === '') return this.scan(text, []);
    // The line carried over ends at the text's first line end: join only that much, not the whole text
    // (a string of both would be copied whole when searched).
    const nl = text.indexOf('\n');
    const r = text.indexOf('\r');
    const end = r >= 0 && (nl === -1 || r < nl) ? r : nl;
    if (end === -1) {
      this.buf += text;
      return [];
    }
    const cut = end === r && text.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
    const out = this.scan(this.buf + text.slice(0, cut), []);
    if (cut === text.length) return out;
    // Only a lone \r ending the joined part is held back (it may start a \r\n): then carry on as one string.
    return this.buf === '' ? this.scan(text.slice(cut), out) : this.scan(this.buf + text.slice(cut), out);
  }

  /** Appends the lines of `buf` to `out` and keeps what follows the last line end (see `push`). */
  private scan(buf: string, out: string[]): string[] {
    let cr = -1;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf('\n', start);
      if (cr !== -2 && cr < start) {
        cr = buf.indexOf('\r', start);
        if (cr === -1) cr = -2; // none left in this buffer: do not search again
      }
      const end = cr >= 0 && (nl === -1 || cr < nl) ? cr : nl;
      if (end === -1) break;
      if (end === cr && end === buf.length - 1) break; // a \r at the end: wait to see whether \n follows
      out.push(buf.slice(start, end));
      start = end + (end === cr && buf.charCodeAt(end + 1) === 10 ? 2 : 1);
    }
    this.buf = buf.slice(start);
    return out;
  }

  /** The lines left at the end of the stream. */
  end(): string[] {
    const out: string[] = [];
    const buf = this.buf + this.decoder.end();
    this.buf = '';
    let start = 0;
    for (;;) {
      const nl = buf.indexOf('\n', start);
      const r = buf.indexOf('\r', start);
      const end = r >= 0 && (nl === -1 || r < nl) ? r : nl;
      if (end === -1) break;
      out.push(buf.slice(start, end));
      start = end + (end === r && buf.charCodeAt(end + 1) === 10 ? 2 : 1);
    }
    if (start < buf.length) out.push(buf.slice(start));
    return out;
  }
}

/** The stream's lines (see `LineSplitter`). */
export async function* lines(stream: Readable): AsyncGenerator<string> {
  const splitter = new LineSplitter();
  for await (const chunk of stream) yield* splitter.push(chunk as Buffer | string);
  yield* splitter.end();
}

/** The records of NDJSON lines, numbered on from `position` (blank lines count but give none). */
function ndjsonItems(lines: readonly string[], position: number, limits?: Readonly<EventLimits>): RecordedItem[] {
  const items: RecordedItem[] = [];
  for (const line of lines) {
    position++;
    if (line.trim() === '') continue;
    try {
      items.push({ event: parseEventLine(line, limits), position });
    } catch (err) {
      items.push({ error: err instanceof ProbewatchError ? err : new ProbewatchError('PW_INVALID_EVENT', String(err)), position });
    }
  }
  return items;
}

/** NDJSON records, a chunk of the stream's lines at a time. */
async function* ndjson(stream: Readable, limits?: Readonly<EventLimits>): AsyncGenerator<RecordedChunk> {
  const splitter = new LineSplitter();
  let position = 0;
  for await (const chunk of stream) {
    const done = splitter.push(chunk as Buffer | string);
    if (done.length === 0) continue;
    yield lazyLines(done, position, limits);
    position += done.length;
  }
  const rest = splitter.end();
  if (rest.length) yield lazyLines(rest, position, limits);
}

async function* avroContainer(stream: Readable, limits?: Readonly<EventLimits>): AsyncGenerator<RecordedItem> {
  // parseHook keeps the file's writer schema; records come out as plain objects.
  const decoder = stream.pipe(new avro.streams.BlockDecoder({ noDecode: false }));
  let position = 0;
  for await (const record of decoder) {
    position++;
    try {
      yield { event: validateEvent({ ...(record as Record<string, unknown>) }, limits), position };
    } catch (err) {
      yield { error: err instanceof ProbewatchError ? err : new ProbewatchError('PW_DECODE_AVRO', String(err)), position };
    }
  }
}

/**
 * A recorded stream of events from a file (`-` for stdin): NDJSON, one event
 * per line, or an Avro object container file. Bad records are yielded as
 * errors with their line (or record) number, never thrown.
 */
export async function* readRecordedEvents(path: string, stdin: Readable = process.stdin, limits?: Readonly<EventLimits>): AsyncGenerator<RecordedItem> {
  for await (const items of readRecordedBatches(path, stdin, limits)) yield* items;
}

/**
 * `readRecordedEvents`' records in the order it gives them, several at a time
 * (an NDJSON chunk's lines, an Avro record): for a reader that takes them
 * in a loop of its own, without a promise per record.
 */
export async function* readRecordedBatches(path: string, stdin: Readable = process.stdin, limits?: Readonly<EventLimits>): AsyncGenerator<RecordedItem[]> {
  for await (const chunk of readRecordedChunks(path, stdin, limits)) yield chunk.items();
}

/** Some records of a recorded stream, read but decoded only when first asked for (`items`), so a reader can decode ahead. */
export interface RecordedChunk {
  /** Records it holds, counted before decoding (an NDJSON chunk's lines, blank ones included). */
  readonly size: number;
  /** Its records, decoded on the first call. */
  items(): RecordedItem[];
}

/** `readRecordedBatches`' records as chunks decoded on demand. */
export async function* readRecordedChunks(path: string, stdin: Readable = process.stdin, limits?: Readonly<EventLimits>): AsyncGenerator<RecordedChunk> {
  const stream = path === '-' ? stdin : createReadStream(path);
  let head: Buffer;
  try {
    head = await peek(stream, AVRO_MAGIC.length);
  } catch (cause) {
    throw new ProbewatchError('PW_USAGE', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  if (!head.equals(AVRO_MAGIC)) return yield* ndjson(stream, limits);
  for await (const item of avroContainer(stream, limits)) yield decoded([item]);
}

function decoded(items: RecordedItem[]): RecordedChunk {
  return { size: items.length, items: () => items };
}

/** NDJSON lines numbered on from `position`, parsed on the first call of `items`. */
function lazyLines(lines: readonly string[], position: number, limits?: Readonly<EventLimits>): RecordedChunk {
  let items: RecordedItem[] | undefined;
  return { size: lines.length, items: () => (items ??= ndjsonItems(lines, position, limits)) };
}
