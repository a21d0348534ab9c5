import type { InferenceEvent } from '../contract.ts';
import { type InvalidEventReason, ProbewatchError } from '../errors.ts';
import type { KeyStateStore } from '../state/KeyStateStore.ts';
import { entityName } from '../../detectors/shared/entityName.ts';

/** The limits that depend on more than one event (config `input`). */
export interface GateLimits {
  /** An event this far behind the latest event time of its partition is late (0: no check). */
  maxLatenessMs: number;
  /** An event this far ahead of the wall clock is from the future (0: no check). */
  maxFutureMs: number;
}

export const DEFAULT_GATE_LIMITS: Readonly<GateLimits> = Object.freeze({ maxLatenessMs: 6 * 3_600_000, maxFutureMs: 3_600_000 });

/** A model's fixed shape, kept in its `model:` aggregate entity (snapshotted with it). */
interface ModelShape {
  width: number;
  classes: number;
}

const SHAPE_SLOT = 'input-shape';

function refuse(reason: InvalidEventReason, message: string): ProbewatchError {
  return new ProbewatchError('PW_INVALID_EVENT', message, { reason });
}

/**
 * The checks that need more than the event itself, applied in arrival order
 * before any state is touched:
 * - time: an event more than `maxFutureMs` ahead of the wall clock, or more
 *   than `maxLatenessMs` behind the latest event time accepted from its
 *   partition, is refused (a far-future stamp would otherwise move event
 *   time forward and idle-evict every key in memory);
 * - shape: a model's sketch width and class count are fixed by its first
 *   events that carry them; a later event with another is refused (a new
 *   projection or a new model version goes under a new model_id).
 * A refused event changes nothing here.
 */
export class EventGate {
  private readonly clocks = new Map<string, number>();

  constructor(
    private readonly limits: Readonly<GateLimits>,
    private readonly store: KeyStateStore,
  ) {}

  /** Why `event` (from `source`, e.g. a partition) is refused, or undefined once admitted. `now` is the wall clock. */
  check(event: InferenceEvent, source: string, now: number): ProbewatchError | undefined {
    const { maxFutureMs, maxLatenessMs } = this.limits;
    if (maxFutureMs > 0 && event.ts > now + maxFutureMs) {
      return refuse('event_future', `ts ${event.ts} is ${event.ts - now} ms ahead of the clock (input.maxFutureMs ${maxFutureMs})`);
    }
    const clock = this.clocks.get(source);
    if (maxLatenessMs > 0 && clock !== undefined && event.ts < clock - maxLatenessMs) {
      return refuse('event_late', `ts ${event.ts} is ${clock - event.ts} ms behind its partition's event time (input.maxLatenessMs ${maxLatenessMs})`);
    }
    const width = event.input_sketch.length;
    // Both vectors have the model's classes when non-empty (validateEvent); a top-1 truncation returns none.
    const classes = Math.max(event.output_probs.length, event.model_probs?.length ?? 0);
    if (width > 0 || classes > 0) {
      const model = this.store.aggregate(entityName('model:', event.model_id), Math.max(event.ts, clock ?? 0));
      const shape = ((model[SHAPE_SLOT] as ModelShape | undefined) ??= { width: 0, classes: 0 });
      if (width > 0 && shape.width > 0 && width !== shape.width) {
        return refuse('sketch_width_changed', `input_sketch has ${width} entries; model ${event.model_id} has ${shape.width}`);
      }
      if (classes > 0 && shape.classes > 0 && classes !== shape.classes) {
        return refuse('classes_changed', `the answer has ${classes} classes; model ${event.model_id} has ${shape.classes}`);
      }
      if (width > 0) shape.width = width;
      if (classes > 0) shape.classes = classes;
    }
    if (clock === undefined || event.ts > clock) this.clocks.set(source, event.ts);
    return undefined;
  }

  /** Forgets the partitions' event times (after a rebalance or a failed batch: they are read again). */
  reset(): void {
    this.clocks.clear();
  }
}
