// A worker thread loads TypeScript through tsx, as bin/probewatch does for the main thread.
import { register } from 'tsx/esm/api';

register();
await import('./detectorWorker.ts');
