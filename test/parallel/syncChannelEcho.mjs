// The worker of syncChannel.test.ts: serves its channel, echoing requests, throwing on `{ fail }`, answering
// `{ fn }` with what does not clone, and `{ stale }` after a second reply to the first request.
// It loads TypeScript through tsx, as detectorWorkerBoot.mjs does.
import { register } from 'tsx/esm/api';
import { parentPort, workerData } from 'node:worker_threads';

register();
const { serveRequests } = await import('../../src/parallel/syncChannel.ts');
serveRequests(parentPort, workerData.port, workerData.signal, (req) => {
  if (req?.fail) throw new Error(req.fail);
  if (req?.fn) return () => req.fn;
  if (req?.stale) workerData.port.postMessage({ seq: 1, body: 'first, again' });
  return req;
});
parentPort.postMessage('ready');
