import { once } from 'node:events';
import { type TransferListItem, Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { SyncChannel } from '../../src/parallel/syncChannel.ts';

const echoWorker = new URL('./syncChannelEcho.mjs', import.meta.url);

/** Keeps a core busy until `stop[0]` is set. */
const SPIN = `
const { workerData } = require('node:worker_threads');
while (Atomics.load(workerData.stop, 0) === 0) {}
`;

/** Wakes whoever waits on `signal` over and over, as late notifies of earlier replies would, until `stop[0]` is set. */
const STRAY_NOTIFIES = `
const { workerData } = require('node:worker_threads');
while (Atomics.load(workerData.stop, 0) === 0) Atomics.notify(workerData.signal, 0);
`;

const started: Worker[] = [];
const stop = new Int32Array(new SharedArrayBuffer(4));

afterEach(async () => {
  Atomics.store(stop, 0, 1);
  await Promise.all(started.splice(0).map((w) => w.terminate()));
  Atomics.store(stop, 0, 0);
});

function thread(code: string | URL, workerData: object, transferList: TransferListItem[] = []): Worker {
  const worker = new Worker(code, { eval: typeof code === 'string', workerData, transferList });
  started.push(worker);
  return worker;
}

async function echoChannel(): Promise<SyncChannel> {
  const channel = new SyncChannel();
  const worker = thread(echoWorker, { port: channel.workerPort, signal: channel.signal }, [channel.workerPort]);
  channel.attach(worker);
  await once(worker, 'message');
  return channel;
}

function roundTrips(channel: SyncChannel, n: number): void {
  for (let i = 0; i < n; i++) {
    const request = { i, data: Float64Array.of(i, -i) };
    channel.send(request);
    const reply = channel.wait<typeof request>();
    if (reply.i !== i || reply.data[1] !== -i) throw new Error(`request ${i} answered with ${reply.i}`);
  }
}

describe('SyncChannel', () => {
  it('takes each reply in order over thousands of back-to-back requests while both cores are kept busy', async () => {
    const channel = await echoChannel();
    thread(SPIN, { stop });
    thread(SPIN, { stop });
    expect(() => roundTrips(channel, 20_000)).not.toThrow();
  });

  // The worker notifies after it stores: a late notify of one reply can wake the wait for the next request
  // before the worker answered it. The stray notifies here stand in for those.
  it('waits for the reply to its own request through wake-ups that belong to none', async () => {
    const channel = await echoChannel();
    thread(STRAY_NOTIFIES, { stop, signal: channel.signal });
    expect(() => roundTrips(channel, 20_000)).not.toThrow();
  });

  it('raises what the worker could not answer, and answers the next request', async () => {
    const channel = await echoChannel();
    channel.send({ fail: 'no such detector' });
    expect(() => channel.wait()).toThrow(/detector worker could not answer: Error: no such detector/);
    channel.send({ fn: 1 });
    expect(() => channel.wait()).toThrow(/detector worker could not answer: DataCloneError/);
    channel.send('next');
    expect(channel.wait()).toBe('next');
  });

  it('refuses a reply to another request than the one awaited', async () => {
    const channel = await echoChannel();
    channel.send('first');
    expect(channel.wait()).toBe('first');
    channel.send({ stale: true });
    expect(() => channel.wait()).toThrow(/detector worker: a stale reply \(to request #1\) came for request #2/);
  });

  it('refuses a second request while a reply is pending, and a wait with none', async () => {
    const channel = await echoChannel();
    expect(() => channel.wait()).toThrow(/no request pending/);
    channel.send(1);
    expect(() => channel.send(2)).toThrow(/a reply is still pending/);
    expect(channel.wait()).toBe(1);
  });
});
