import type { AggregateFact, EntityStageLink, GroupReading, ModelDigest } from '../../detectors/shared/aggregateFacts.ts';
import type { GroupVerdict } from '../../detectors/types.ts';
import { encodeStageValue, readingSlot } from './aggregateStageCodec.ts';

/** Entities remembered as having the sender's current digest; past it the memory starts over (digests are sent again). */
const MAX_DIGEST_SLOTS = 100_000;

/**
 * The per-key stage's end of the aggregate stage (`aggregateStage.enabled`):
 * collects the batch's facts for the repartition topic (a model digest only
 * when it changed for that entity), holds the latest reading of each entity
 * from the group evidence topic, and passes on the group verdicts that the
 * aggregate stage in this process reached.
 */
export class AggregateStageLink implements EntityStageLink {
  private facts: { key: string; value: Buffer }[] = [];
  private readonly readings = new Map<string, GroupReading>();
  private verdicts: GroupVerdict[] = [];
  private readonly sentDigest = new Map<string, string>();
  private readonly arrayIds = new WeakMap<number[], number>();
  private nextArrayId = 1;

  publish(fact: AggregateFact): void {
    const slot = readingSlot(fact.entity, fact.model);
    const signature = fact.digest ? this.signature(fact.digest) : '';
    if (this.sentDigest.get(slot) === signature) delete fact.digest;
    else {
      if (this.sentDigest.size >= MAX_DIGEST_SLOTS) this.sentDigest.clear();
      this.sentDigest.set(slot, signature);
    }
    this.facts.push({ key: fact.entity, value: encodeStageValue(fact) });
  }

  get pendingFacts(): number {
    return this.facts.length;
  }

  /** The facts collected since the last call, as messages keyed by entity. */
  takeFacts(): { key: string; value: Buffer }[] {
    const out = this.facts;
    this.facts = [];
    return out;
  }

  requeueFacts(facts: { key: string; value: Buffer }[]): void {
    this.facts = facts.concat(this.facts);
  }

  reading(entity: string, model: string): GroupReading | undefined {
    return this.readings.get(readingSlot(entity, model));
  }

  /** A reading from the evidence topic; one with no keys clears the entity. */
  receive(r: GroupReading): void {
    const slot = readingSlot(r.entity, r.model);
    if (r.keys === 0) this.readings.delete(slot);
    else this.readings.set(slot, r);
  }

  get size(): number {
    return this.readings.size;
  }

  addVerdicts(v: readonly GroupVerdict[]): void {
    for (const x of v) this.verdicts.push(x);
  }

  takeVerdicts(): GroupVerdict[] {
    const out = this.verdicts;
    this.verdicts = [];
    return out;
  }

  /** Same signature, same digest: the reference arrays are replaced, never written into, when a model's baselines fold. */
  private signature(d: ModelDigest): string {
    return `${this.idOf(d.classes)}|${this.idOf(d.buckets)}|${d.width}|${d.rms}|${d.marginThreshold}|${d.entropyThreshold}|${d.local}`;
  }

  private idOf(a: number[] | null): number {
    if (!a) return 0;
    let id = this.arrayIds.get(a);
    if (id === undefined) this.arrayIds.set(a, (id = this.nextArrayId++));
    return id;
  }
}
