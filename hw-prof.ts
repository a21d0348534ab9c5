import { Writable } from 'node:stream';
import { replay } from './src/cli/replay.ts';
import { parseConfig } from './src/config/loadConfig.ts';
import { WorkerOffload } from './src/parallel/WorkerOffload.ts';
import { DetectionPipeline } from './src/pipeline/DetectionPipeline.ts';
const stats: Record<string, number> = { n: 0 };
function wrap(proto: any, m: string, count = false) {
  const orig = proto[m];
  proto[m] = function (...a: unknown[]) { const t = performance.now(); try { return orig.apply(this, a); } finally { stats[m] = (stats[m] ?? 0) + performance.now() - t; if (count) stats[m + 'N'] = (stats[m + 'N'] ?? 0) + 1; } };
}
wrap(WorkerOffload.prototype, 'drain'); wrap(WorkerOffload.prototype, 'explain', true); wrap(WorkerOffload.prototype, 'begin', true);
wrap(DetectionPipeline.prototype, 'processBatch'); wrap(DetectionPipeline.prototype, 'runDetector'); wrap(DetectionPipeline.prototype, 'calibrate'); wrap(DetectionPipeline.prototype, 'feedReferences');
const discard = () => new Writable({ write: (_c, _e, done) => done() });
const w = Number(process.argv[3]);
const s = await replay(process.argv[2], parseConfig({}), { out: discard(), err: discard(), workers: w || undefined });
console.log(w, s.seconds.toFixed(1), Object.entries(stats).map(([k, v]) => `${k} ${k.endsWith('N') ? v : (v / 1000).toFixed(2)}`).join(', '));
