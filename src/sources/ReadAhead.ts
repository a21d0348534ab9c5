import type { RecordedChunk } from './recordedEvents.ts';

/**
 * A recorded stream read some records ahead of its reader: `fill` reads on
 * until that many records wait, `decodeAhead` decodes the waiting ones (work
 * a thread can do while it waits for others), `next` hands the chunks over
 * in order. What the reader sees does not depend on how far ahead it read.
 */
export class ReadAhead {
  private readonly queue: RecordedChunk[] = [];
  private queued = 0;
  private ended = false;

  constructor(private readonly source: AsyncIterator<RecordedChunk>) {}

  /** The next chunk, or undefined at the end of the stream. */
  async next(): Promise<RecordedChunk | undefined> {
    while (this.queue.length === 0 && !this.ended) await this.pull();
    const chunk = this.queue.shift();
    if (chunk) this.queued -= chunk.size;
    return chunk;
  }

  /** Reads on until at least `records` records wait, or the stream ends. */
  async fill(records: number): Promise<void> {
    while (this.queued < records && !this.ended) await this.pull();
  }

  /** Decodes the chunks read but not handed over yet. */
  decodeAhead(): void {
    for (const chunk of this.queue) chunk.items();
  }

  /** Stops reading (closes the source) before its end. */
  async close(): Promise<void> {
    if (!this.ended) await this.source.return?.();
    this.ended = true;
  }

  private async pull(): Promise<void> {
    const r = await this.source.next();
    if (r.done) this.ended = true;
    else {
      this.queue.push(r.value);
      this.queued += r.value.size;
    }
  }
}
