import type { DetectorContext } from '../../detectors/types.ts';
import type { EntityStageLink } from '../../detectors/shared/aggregateFacts.ts';
import type { ModelReference } from '../baselines/ModelReference.ts';
import type { ModelReferences } from '../baselines/ModelReferences.ts';
import type { Compute } from '../compute/Compute.ts';
import type { KeyStateStore } from '../state/KeyStateStore.ts';

/**
 * What one detector sees of the pipeline while it runs one batch. Methods, not closures made per
 * batch: a detector's optimised batch loop calls `aggregate` and `reference`, and a new function
 * there at each batch is a new call target, which throws the optimised loop away.
 */
export class BatchContext implements DetectorContext {
  /** An entity is looked up in the store once per batch (its last-seen time is the batch's maxTs either way). */
  private readonly seen = new Map<string, unknown>();

  constructor(
    readonly compute: Compute,
    readonly entityStage: EntityStageLink | undefined,
    private readonly references: ModelReferences,
    private readonly store: KeyStateStore,
    /** The detector's name: its namespace in each aggregate entity. */
    private readonly detector: string,
    /** The batch's latest event time. */
    private readonly maxTs: number,
  ) {}

  reference(model: string): ModelReference | null {
    return this.references.get(model);
  }

  aggregate<T>(entity: string, init: () => T): T {
    let value = this.seen.get(entity);
    if (value === undefined) {
      const a = this.store.aggregate(entity, this.maxTs);
      if (!(this.detector in a)) a[this.detector] = init();
      value = a[this.detector];
      this.seen.set(entity, value);
    }
    return value as T;
  }
}
