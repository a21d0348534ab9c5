import { MessageChannel, type MessagePort, receiveMessageOnPort, type Worker } from 'node:worker_threads';

/** How long the main thread waits for one reply before giving the worker up (a worker that died cannot answer). */
const REPLY_TIMEOUT_MS = 600_000;

/**
 * Requests to a worker thread whose replies the main thread can wait for
 * synchronously: the worker posts its reply on a dedicated port and then
 * flips a shared flag, on which the main thread blocks (`Atomics.wait`).
 * This keeps `DetectionPipeline.processBatch` synchronous while workers run.
 */
export class SyncChannel {
  readonly signal = new Int32Array(new SharedArrayBuffer(4));
  private readonly channel = new MessageChannel();
  private pending = false;
  private worker?: Worker;

  /** The worker the requests go to, once started with `workerPort` and `signal`. */
  attach(worker: Worker): void {
    this.worker = worker;
  }

  /** The worker's end: pass it in `workerData` and in the transfer list. */
  get workerPort(): MessagePort {
    return this.channel.port2;
  }

  /** Sends a request; its reply is taken with `wait`. One request at a time. */
  send(message: unknown): void {
    if (this.pending) throw new Error('SyncChannel: a reply is still pending');
    Atomics.store(this.signal, 0, 0);
    if (!this.worker) throw new Error('SyncChannel: no worker attached');
    this.pending = true;
    this.worker.postMessage(message);
  }

  /** Blocks until the worker replies to the last request, and returns the reply. */
  wait<T>(): T {
    if (!this.pending) throw new Error('SyncChannel: no request pending');
    const result = Atomics.wait(this.signal, 0, 0, REPLY_TIMEOUT_MS);
    if (result === 'timed-out') throw new Error(`detector worker did not answer within ${REPLY_TIMEOUT_MS / 1000} s`);
    this.pending = false;
    const received = receiveMessageOnPort(this.channel.port1);
    if (!received) throw new Error('detector worker signalled a reply but none arrived');
    return received.message as T;
  }

  close(): void {
    this.channel.port1.close();
  }
}

/** The worker's side: posts a reply and wakes the waiting main thread. */
export function replyTo(port: MessagePort, signal: Int32Array, message: unknown, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}
