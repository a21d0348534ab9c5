import type { Detector, DetectorOutput, KeyGroup } from '../../detectors/types.ts';

/** A per-key marker standing in the main thread's key state for a detector whose state lives in a worker. */
export interface RemoteState {
  /** Generation: a new marker (a key state created afresh) makes the worker start the key's state afresh. */
  worker: number;
}

/** Where a `RemoteDetector` takes its outputs from (`WorkerOffload`). */
export interface RemoteOutputs {
  outputsOf(name: string, groups: readonly KeyGroup<unknown>[]): DetectorOutput[];
  nextGeneration(): number;
}

/**
 * Stands in the pipeline for a detector that runs on worker threads: the
 * same name, kind, family and signature flag, so fusion and the output are
 * those of the detector itself; its `processBatch` returns what the workers
 * computed for the batch part the offload dispatched before the detectors ran.
 */
export class RemoteDetector implements Detector<RemoteState> {
  readonly name: string;
  readonly kind?: 'rate' | 'behaviour';
  readonly family?: Detector['family'];
  readonly signature?: boolean;

  constructor(
    real: Detector,
    private readonly source: RemoteOutputs,
  ) {
    this.name = real.name;
    if (real.kind !== undefined) this.kind = real.kind;
    if (real.family !== undefined) this.family = real.family;
    if (real.signature !== undefined) this.signature = real.signature;
  }

  initState(): RemoteState {
    return { worker: this.source.nextGeneration() };
  }

  processBatch(groups: readonly KeyGroup<RemoteState>[]): DetectorOutput[] {
    return this.source.outputsOf(this.name, groups);
  }
}
