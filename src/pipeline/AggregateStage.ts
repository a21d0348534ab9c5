import type { AggregatesDetector } from '../../detectors/aggregates.ts';
import type { AggregateFact, GroupReading, ModelDigest } from '../../detectors/shared/aggregateFacts.ts';
import type { EntityView } from '../../detectors/shared/EntityView.ts';
import type { GroupVerdict } from '../../detectors/types.ts';
import { type EntityCaps, entityKind } from '../state/KeyStateStore.ts';
import { decodeStageValue, encodeStageValue, readingSlot } from './aggregateStageCodec.ts';

/** Layout version of a fact partition's snapshot. */
const STAGE_SNAPSHOT_VERSION = 1;

/**
 * The aggregate stage's state for one partition of the facts topic: the
 * entities keyed to it (their views per model, the model digest each last
 * received, the event time and epoch of its last fact) and the offset of
 * the last fact applied, so that a restored partition skips what it holds.
 */
export interface StagePartitionState {
  v: number;
  /** Offset of the last fact applied; -1 before the first. */
  offset: number;
  entities: Record<string, Record<string, EntityView>>;
  digests: Record<string, ModelDigest>;
  last: Record<string, { ts: number; epoch: number }>;
  /** Event time of each entity's last fact (eviction). */
  seen: Record<string, number>;
}

/** How much the stage holds per fact partition: the per-key stage's `state.maxEntities` and `state.idleEvictMs`. */
export interface StageLimits {
  maxEntities: EntityCaps;
  idleEvictMs: number;
}

const NO_DIGEST: ModelDigest = { width: 0, rms: 0, classes: null, buckets: null, marginThreshold: null, entropyThreshold: null, local: false };

/**
 * The entity-keyed stage (Kafka Streams' repartition, on Kafka's own
 * machinery): pools the facts of the partitions it owns into the aggregates
 * detector's entity views, in offset order, and reads each entity touched
 * by a batch once at its end. No Kafka here: `AggregateStageRunner` feeds it.
 */
export class AggregateStage {
  private readonly parts = new Map<number, StagePartitionState>();
  private readonly touched = new Map<string, { partition: number; entity: string; model: string }>();

  constructor(
    private readonly detector: AggregatesDetector,
    private readonly limits?: StageLimits,
  ) {}

  owns(partition: number): boolean {
    return this.parts.has(partition);
  }

  /** Takes a partition on, from its snapshot (null: from nothing). An unreadable or other-version snapshot throws. */
  restore(partition: number, snapshot: Buffer | null): void {
    const state = snapshot ? decodeStageValue<StagePartitionState>(snapshot) : null;
    if (state && state.v !== STAGE_SNAPSHOT_VERSION) throw new Error(`aggregate stage snapshot of partition ${partition} has layout ${String(state.v)}, expected ${STAGE_SNAPSHOT_VERSION}`);
    this.parts.set(partition, state ?? { v: STAGE_SNAPSHOT_VERSION, offset: -1, entities: {}, digests: {}, last: {}, seen: {} });
  }

  /** Forgets every partition (a rebalance: the next batch of each reloads its snapshot). */
  dropAll(): void {
    this.parts.clear();
    this.touched.clear();
  }

  /** Applies one fact at its offset; false when the partition's state already holds it. */
  apply(partition: number, offset: number, fact: AggregateFact): boolean {
    const st = this.parts.get(partition);
    if (!st) throw new Error(`aggregate stage does not own partition ${partition}`);
    if (offset <= st.offset) return false;
    st.offset = offset;
    const slot = readingSlot(fact.entity, fact.model);
    if (fact.digest) st.digests[slot] = fact.digest;
    const views = (st.entities[fact.entity] ??= {});
    this.detector.poolFact(fact, views, st.digests[slot] ?? NO_DIGEST);
    st.last[slot] = { ts: fact.ts, epoch: fact.epoch };
    st.seen[fact.entity] = Math.max(st.seen[fact.entity] ?? fact.ts, fact.ts);
    this.touched.set(slot, { partition, entity: fact.entity, model: fact.model });
    return true;
  }

  /** The readings of the entities touched since the last call, each read once. */
  readings(): GroupReading[] {
    const out: GroupReading[] = [];
    for (const [slot, { partition, entity, model }] of this.touched) {
      const st = this.parts.get(partition);
      const view = st?.entities[entity]?.[model];
      if (!st || !view) continue;
      const { ts, epoch } = st.last[slot];
      out.push(this.detector.readEntity(entity, view, model, ts, epoch, st.digests[slot] ?? NO_DIGEST));
    }
    this.touched.clear();
    return out;
  }

  drainVerdicts(): GroupVerdict[] {
    return this.detector.drainVerdicts();
  }

  /**
   * Drops a partition's entities idle for `idleEvictMs` of event time, then the least recently fed of
   * each kind past its cap, as the per-key stage bounds its own; returns how many went, by reason.
   */
  evict(partition: number): { idle: number; capacity: number } {
    const st = this.parts.get(partition);
    if (!st || !this.limits) return { idle: 0, capacity: 0 };
    const { maxEntities, idleEvictMs } = this.limits;
    let newest = -Infinity;
    for (const e in st.seen) newest = Math.max(newest, st.seen[e]);
    const byKind = new Map<string, string[]>();
    const gone: string[] = [];
    for (const e in st.seen) {
      if (st.seen[e] < newest - idleEvictMs) gone.push(e);
      else {
        const kind = entityKind(e);
        let list = byKind.get(kind);
        if (!list) byKind.set(kind, (list = []));
        list.push(e);
      }
    }
    const idle = gone.length;
    for (const [kind, list] of byKind) {
      const cap = maxEntities[kind] ?? maxEntities.other;
      if (list.length > cap) gone.push(...list.sort((a, b) => st.seen[a] - st.seen[b]).slice(0, list.length - cap));
    }
    for (const e of gone) {
      for (const model in st.entities[e]) {
        const slot = readingSlot(e, model);
        delete st.digests[slot];
        delete st.last[slot];
        this.touched.delete(slot);
      }
      delete st.entities[e];
      delete st.seen[e];
    }
    return { idle, capacity: gone.length - idle };
  }

  snapshot(partition: number): Buffer {
    const st = this.parts.get(partition);
    if (!st) throw new Error(`aggregate stage does not own partition ${partition}`);
    return encodeStageValue(st);
  }
}
