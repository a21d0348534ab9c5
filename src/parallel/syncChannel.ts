import { MessageChannel, type MessagePort, receiveMessageOnPort, type Worker } from 'node:worker_threads';

/** How long the main thread waits for one reply before giving the worker up (a worker that died cannot answer). */
const REPLY_TIMEOUT_MS = 600_000;
/** How long a reply whose number the worker stored is looked for on the port before the exchange fails. */
const DELIVERY_GRACE_MS = 2_000;
/** Requests are numbered 1 … 2^31 - 1 and round again; 0 is the signal's value before the first reply. */
const MAX_SEQ = 0x7fff_ffff;

/** A request as it crosses to the worker: its number pairs it with its reply. */
interface Request {
  seq: number;
  body: unknown;
}

/** A reply as it crosses back: the answered request's number, and the answer or why there is none. */
type Reply = { seq: number; body: unknown } | { seq: number; error: string };

/**
 * Requests to a worker thread whose replies the main thread can wait for
 * synchronously: the worker posts its reply on a dedicated port and then
 * stores the request's number in a shared cell, on which the main thread
 * blocks (`Atomics.wait`). This keeps `DetectionPipeline.processBatch`
 * synchronous while workers run. The worker's side is `serveRequests`.
 */
export class SyncChannel {
  /** The number of the last request the worker answered. */
  readonly signal = new Int32Array(new SharedArrayBuffer(4));
  private readonly channel = new MessageChannel();
  /** Slept on (never notified) between looks at the port. */
  private readonly nap = new Int32Array(new SharedArrayBuffer(4));
  private seq = 0;
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
    if (!this.worker) throw new Error('SyncChannel: no worker attached');
    this.seq = (this.seq % MAX_SEQ) + 1;
    this.pending = true;
    this.worker.postMessage({ seq: this.seq, body: message } satisfies Request);
  }

  /** Blocks until the worker replies to the last request, and returns the reply. */
  wait<T>(): T {
    if (!this.pending) throw new Error('SyncChannel: no request pending');
    const seq = this.seq;
    const deadline = performance.now() + REPLY_TIMEOUT_MS;
    // Waits for this request's number, not for any wake-up: the worker notifies after it stores, so the previous
    // reply's notify can come late, once that reply was taken and this request sent, before the worker answered it.
    for (let current = Atomics.load(this.signal, 0); current !== seq; current = Atomics.load(this.signal, 0)) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`detector worker did not answer within ${REPLY_TIMEOUT_MS / 1000} s`);
      Atomics.wait(this.signal, 0, current, left);
    }
    this.pending = false;
    const reply = this.receive(seq);
    if (reply.seq !== seq) throw new Error(`detector worker: a stale reply (to request #${reply.seq}) came for request #${seq}`);
    if ('error' in reply) throw new Error(`detector worker could not answer: ${reply.error}`);
    return reply.body as T;
  }

  close(): void {
    this.channel.port1.close();
  }

  /** The reply on the port. Node queues a message on the other end before `postMessage` returns, so looking again is a guard only. */
  private receive(seq: number): Reply {
    const deadline = performance.now() + DELIVERY_GRACE_MS;
    for (;;) {
      const received = receiveMessageOnPort(this.channel.port1);
      if (received) return received.message as Reply;
      if (performance.now() >= deadline) {
        throw new Error(`detector worker signalled its reply to request #${seq} but none arrived within ${DELIVERY_GRACE_MS / 1000} s`);
      }
      Atomics.wait(this.nap, 0, 0, 1);
    }
  }
}

/**
 * The worker's side: answers each request arriving on `requests` (its
 * `parentPort`) with what `handle` returns, posted on `port`, then stores
 * the request's number in `signal` and wakes the waiting main thread. Should
 * `handle` throw or its reply not clone, the error is the answer, so the main
 * thread never waits for a reply that will not come.
 */
export function serveRequests<Req>(requests: MessagePort, port: MessagePort, signal: Int32Array, handle: (request: Req) => unknown): void {
  requests.on('message', ({ seq, body }: Request) => {
    try {
      port.postMessage({ seq, body: handle(body as Req) } satisfies Reply);
    } catch (err) {
      port.postMessage({ seq, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies Reply);
    }
    Atomics.store(signal, 0, seq);
    Atomics.notify(signal, 0);
  });
}
