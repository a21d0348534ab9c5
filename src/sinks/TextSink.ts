import { Writable } from 'node:stream';

/** A writable stream that keeps what is written as text (a replay's stdout, in memory). */
export class TextSink extends Writable {
  text = '';

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    done();
  }
}
