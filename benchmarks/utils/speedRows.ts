import type { KeyBytes } from '../speed-key-bytes.ts';
import type { LoadResult } from '../speed-load.ts';
import type { ReplayRatio } from '../speed-replay.ts';
import type { RunRatio } from '../speed-run.ts';
import { sig } from './table.ts';

/** The bar of issue 12. */
export const BAR = {
  replay: 0.25,
  replayWorkers2: 0.4,
  run: 0.1,
  /** p99 event→RiskScore at most this many times the raw consumer's p99. */
  loadP99: 2,
  idleBytes: 4 * 1024,
  activeBytes: 24 * 1024,
} as const;

export const SPEED_HEADERS = ['figure', 'probewatch', 'baseline (same run)', 'ratio', 'bar', 'meets'] as const;

export interface SpeedFigures {
  replay?: ReplayRatio;
  run?: RunRatio;
  load?: LoadResult[];
  bytes?: {
    idle: KeyBytes;
    idleBase: KeyBytes;
    active: KeyBytes;
    activeBase: KeyBytes;
    idlePrimed?: KeyBytes;
    activePrimed?: KeyBytes;
    /** Idle keys once quiet past `state.packAfterIdleMs` (held packed), against volume alone measured the same way. */
    idleQuiet?: KeyBytes;
    idleQuietBase?: KeyBytes;
    idleQuietPrimed?: KeyBytes;
    /** Active keys, primed, with packing off (every key live at the reading), against volume alone measured the same way. */
    activeLive?: KeyBytes;
    activeLiveBase?: KeyBytes;
  };
}

const eps = (x: number) => `${Math.round(x).toLocaleString('en-US')} events/s`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} kB`;
/**
 * Offered load is sustained only if, when production ended, at most this many seconds of it were still to
 * commit: two fetch waits of `run` (one to read a batch, one while the next fills). A run that drains
 * its backlog only after the producer stops did not keep up with the rate.
 */
const SUSTAINED_BACKLOG_S = 2;
const ms = (x: number) => (Number.isFinite(x) ? `${Math.round(x).toLocaleString('en-US')} ms` : 'none');
const yes = (ok: boolean) => (ok ? 'yes' : 'no');

/** `a / b` as "0.035×" (two significant digits). */
export function ratioText(a: number, b: number): string {
  return `${sig(a / b, 2)}×`;
}

/** Whether a ratio meets an "at least" bar. */
export function atLeast(a: number, b: number, bar: number): boolean {
  return b > 0 && a / b >= bar;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MB`;

/** The process's growth whatever the keys, when the per-key figure was taken between two key counts. */
function fixedNote(k: KeyBytes): string {
  if (!k.fixed) return '';
  const { heap, buffers, fewerKeys } = k.fixed;
  return `; besides, fixed (the same at ${fewerKeys} keys or more): ${mb(heap + buffers)} (${mb(heap)} + ${mb(buffers)})`;
}

function bytesRow(label: string, all: KeyBytes, base: KeyBytes, bar: number): string[] {
  const total = all.heap + all.buffers;
  const primed = all.primed ? ', after a primer of the same traffic (what one more key costs)' : '';
  const quiet = all.quiet ? ', then quiet past state.packAfterIdleMs (held packed)' : '';
  const live = all.live ? ', packing off (state.packAfterIdleMs: 0): every key live at the reading' : '';
  const packed = !all.quiet && all.packed ? `, ${all.packed} of them held packed at the reading (their traffic ended earlier)` : '';
  const keys = all.fixed ? `per key from ${all.fixed.fewerKeys} to ${all.keys} keys` : `${all.keys} keys`;
  return [
    `${label} (${all.history} events each, ${keys}${primed}${quiet}${live}${packed}): heap + array buffers`,
    `${kb(total)} (${kb(all.heap)} + ${kb(all.buffers)})${fixedNote(all)}`,
    `volume detector only: ${kb(base.heap + base.buffers)} (${kb(base.heap)} + ${kb(base.buffers)})${fixedNote(base)}`,
    '—',
    `≤ ${kb(bar)}`,
    yes(total <= bar),
  ];
}

function loadRow(r: LoadResult): string[] {
  const lowerBound = r.run.drained ? '' : '≥ ';
  const behind = r.run.drained ? `drained ${r.run.drainSeconds.toFixed(1)} s after the end` : `NOT drained ${r.run.drainSeconds.toFixed(0)} s after the end: p50/p99 are lower bounds`;
  const fellBehind = r.run.backlogAtEnd > SUSTAINED_BACKLOG_S * r.rate ? ` (more than ${SUSTAINED_BACKLOG_S} s of the offered events: NOT sustained)` : '';
  // The harness shares the machine: when it could not send at the rate asked, the row says so.
  const reached = r.offeredRun >= 0.9 * r.rate;
  // Kept up: when production ended, at most `SUSTAINED_BACKLOG_S` seconds of the offered events were still to commit.
  const keptUp = r.run.backlogAtEnd <= SUSTAINED_BACKLOG_S * r.rate;
  const sustained = reached && keptUp && r.run.drained && r.run.samples > 0;
  return [
    `offered ${r.rate.toLocaleString('en-US')} events/s for ${r.seconds} s: p50 / p99 event→RiskScore sent`,
    `${lowerBound}${ms(r.run.p50)} / ${lowerBound}${ms(r.run.p99)} (${r.run.samples.toLocaleString('en-US')} RiskScores; ${r.run.read ? `read back from the risk topic by the bench: ${ms(r.run.read.p50)} / ${ms(r.run.read.p99)}; ` : ''}${Math.round(r.offeredRun).toLocaleString('en-US')}/s offered${reached ? '' : ' (the rate was NOT reached)'}; backlog ${r.run.backlogAtEnd.toLocaleString('en-US')} events when production ended${fellBehind}; ${behind})`,
    `raw consumer event→read: ${ms(r.raw.p50)} / ${ms(r.raw.p99)} (${r.raw.samples.toLocaleString('en-US')} events; ${Math.round(r.offeredRaw).toLocaleString('en-US')}/s offered)`,
    r.run.samples > 0 && r.raw.p99 > 0 ? `${lowerBound}${ratioText(r.run.p99, r.raw.p99)} (p99)` : '—',
    `p99 ≤ ${BAR.loadP99}× raw p99, sustained`,
    yes(sustained && r.run.p99 <= BAR.loadP99 * r.raw.p99),
  ];
}

/** The rows of the one table: each figure, its baseline, the ratio, the bar and whether it is met. */
export function speedRows(f: SpeedFigures): string[][] {
  const rows: string[][] = [];
  if (f.replay) {
    const r = f.replay;
    rows.push([`replay, all detectors, one worker (${r.events.toLocaleString('en-US')} events, median of ${r.rounds})`, eps(r.replayEps), `bare JSON.parse loop: ${eps(r.parseEps)}`, ratioText(r.replayEps, r.parseEps), `≥ ${BAR.replay}×`, yes(atLeast(r.replayEps, r.parseEps, BAR.replay))]);
    rows.push(
      r.workers2
        ? [`replay --workers 2 (output ${r.workers2.identicalOutput ? 'identical to' : 'DIFFERENT from'} one worker's)`, eps(r.workers2.eps), `bare JSON.parse loop: ${eps(r.parseEps)}`, ratioText(r.workers2.eps, r.parseEps), `≥ ${BAR.replayWorkers2}×, identical output`, yes(r.workers2.identicalOutput && atLeast(r.workers2.eps, r.parseEps, BAR.replayWorkers2))]
        : ['replay --workers 2', 'not measured: this tree\'s `replay` has no --workers option', '—', '—', `≥ ${BAR.replayWorkers2}×`, 'no'],
    );
    // The pipeline's own floor: no bar of its own, it bounds what faster detectors could reach.
    if (r.volumeOnlyEps) rows.push(['replay, volume detector only (the floor the rest of the pipeline sets)', eps(r.volumeOnlyEps), `bare JSON.parse loop: ${eps(r.parseEps)}`, ratioText(r.volumeOnlyEps, r.parseEps), '— (bounds the bar above)', '—']);
    if (r.noDetectorsEps) rows.push(['replay, no detectors (parse, group, fuse, ladder, output)', eps(r.noDetectorsEps), `bare JSON.parse loop: ${eps(r.parseEps)}`, ratioText(r.noDetectorsEps, r.parseEps), '— (bounds the bar above)', '—']);
  }
  if (f.run) {
    const r = f.run;
    rows.push([`run, all detectors, Redis (${r.events.toLocaleString('en-US')} events on the topic, median of ${r.rounds})`, eps(r.runEps), `raw KafkaJS consumer: ${eps(r.rawEps)}`, ratioText(r.runEps, r.rawEps), `≥ ${BAR.run}×`, yes(atLeast(r.runEps, r.rawEps, BAR.run))]);
  }
  for (const r of f.load ?? []) rows.push(loadRow(r));
  if (f.bytes) {
    rows.push(bytesRow('bytes per idle key', f.bytes.idle, f.bytes.idleBase, BAR.idleBytes));
    rows.push(bytesRow('bytes per active key', f.bytes.active, f.bytes.activeBase, BAR.activeBytes));
    if (f.bytes.idlePrimed) rows.push(bytesRow('bytes per idle key', f.bytes.idlePrimed, f.bytes.idleBase, BAR.idleBytes));
    if (f.bytes.activePrimed) rows.push(bytesRow('bytes per active key', f.bytes.activePrimed, f.bytes.activeBase, BAR.activeBytes));
    if (f.bytes.activeLive) rows.push(bytesRow('bytes per active key', f.bytes.activeLive, f.bytes.activeLiveBase ?? f.bytes.activeBase, BAR.activeBytes));
    const quietBase = f.bytes.idleQuietBase ?? f.bytes.idleBase;
    if (f.bytes.idleQuiet) rows.push(bytesRow('bytes per idle key', f.bytes.idleQuiet, quietBase, BAR.idleBytes));
    if (f.bytes.idleQuietPrimed) rows.push(bytesRow('bytes per idle key', f.bytes.idleQuietPrimed, quietBase, BAR.idleBytes));
  }
  return rows;
}
