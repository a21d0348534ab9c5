import type { AvroEventCodec } from '../codec/AvroEventCodec.ts';
import { ProbewatchError, isProbewatchError } from '../errors.ts';
import type { DeadLetter, Decision, RiskScore } from '../contract.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { KafkaOutputs } from '../sinks/KafkaPublisher.ts';
import type { AggregateSnapshot, KeyState, SaveOptions } from '../state/KeyStateStore.ts';
import { chunkByKeys } from './chunkByKeys.ts';
import type { DetectionPipeline, Escalation } from './DetectionPipeline.ts';
import { DEFAULT_GATE_LIMITS, EventGate, type GateLimits } from './EventGate.ts';
import { type SourceMessage, type SourcedEvent, decodeMessages } from './decodeMessages.ts';
import { Outbox } from './Outbox.ts';
import { type RetryOptions, withRetry } from './retry.ts';
import type { FaultPoint } from './testFaultPoint.ts';

/** The narrow views of the collaborators a batch needs. */
export interface BatchProcessorDeps {
  pipeline: DetectionPipeline;
  codec: AvroEventCodec;
  publisher: { publish(out: KafkaOutputs): Promise<void> };
  decisionStore: { publish(decisions: readonly Decision[]): Promise<void> };
  snapshots: {
    load(keys: readonly string[]): Promise<Map<string, KeyState>>;
    /**
     * Saves `states`. A store that can tell it lost what it held (Redis
     * restarted empty) throws `PW_STATE_LOST` instead of writing; `full`
     * then writes every section of every state given, whatever it wrote
     * before.
     */
    save(states: readonly KeyState[], options?: SaveOptions): Promise<void>;
    /** Aggregate entities; a store without them keeps aggregates in memory only. */
    loadAggregates?(): Promise<AggregateSnapshot[]>;
    saveAggregates?(aggregates: readonly AggregateSnapshot[], options?: SaveOptions): Promise<void>;
  };
  /**
   * Least wall-clock time between two snapshots of the keys (config
   * `state.snapshotEveryMs`); 0 snapshots after every batch. Offsets are
   * handed back for commit only once a snapshot covers them.
   */
  snapshotEveryMs?: number;
  /**
   * Most share of the processor's wall time that snapshots of the keys may
   * take while batches keep coming (config `state.snapshotShare`): a
   * snapshot that took `d` ms puts the next at least `d / share` ms after
   * it began, up to `SNAPSHOT_STRETCH_MAX` times `snapshotEveryMs`. Between
   * batches (a timer call with no batch since the previous one) only
   * `snapshotEveryMs` applies. Without, or with `snapshotEveryMs` 0: every
   * interval, whatever a snapshot costs.
   */
  snapshotShare?: number;
  /** Which aggregate entities to snapshot and how often (config `state.aggregates`). */
  aggregates?: { snapshotEveryMs: number; entities: readonly string[] };
  logger: Logger;
  metrics?: Metrics;
  /** SIEM alerts for keys stepping up the ladder, handed over once the batch's outputs are acknowledged. */
  alerts?: { publish(escalations: readonly Escalation[]): void };
  /** Facts for the aggregate stage waiting to go out with the publisher's next send (`aggregateStage.enabled`). */
  pendingFacts?: () => number;
  /** Wall clock: stamps dead letters and paces aggregate snapshots. */
  now?: () => number;
  /** Lateness and future limits (config `input`); defaults without. */
  gate?: Readonly<GateLimits>;
  /** Crash tests only (`testFaultPoint`): awaited where a batch is saved but not yet committed. */
  faultPoint?: (point: FaultPoint) => Promise<void>;
}

/** How far `snapshotShare` may stretch the interval between two snapshots of the keys: this many times `snapshotEveryMs` at most. */
export const SNAPSHOT_STRETCH_MAX = 10;

/** One partition's slice of a fetch. */
export interface SourceBatch {
  topic: string;
  partition: number;
  messages: readonly SourceMessage[];
  /** False once retrying is pointless (shutdown, partition revoked): the batch then fails uncommitted. */
  shouldContinue?: () => boolean;
  /** Keeps group membership alive while a sink is retried. */
  heartbeat?: () => Promise<void>;
}

export interface BatchResult {
  /** Events run through the pipeline. */
  applied: number;
  /** Events already applied to their key's snapshot (redelivered after a crash or rebalance). */
  skipped: number;
  deadLetters: number;
  /** Offset of the last message (where the partition resumes in this process). */
  lastOffset: string | undefined;
  /** Offsets covered by the snapshots saved so far, not handed back before: these may be committed now. */
  commits: CommitOffset[];
}

/** Where a partition may be committed: `offset` is the next to read, every message before it being in a snapshot. */
export interface CommitOffset {
  topic: string;
  partition: number;
  offset: string;
}

/**
 * One batch, decode to durable outputs: undecodable messages become dead
 * letters; keys not in memory are restored from their snapshots; messages a
 * snapshot already covers are skipped (so a redelivered batch is applied
 * once); the pipeline runs; RiskScores, Decisions and dead letters are
 * published and acknowledged. Keys changed are snapshotted (with the
 * offsets they include) at most every `snapshotEveryMs`, all of them at
 * once, and while batches keep coming at most as often as keeps snapshots
 * within `snapshotShare` of the time; a batch's offset is handed back for commit (`commits`) only once a
 * snapshot holds everything before it, so a crash between two snapshots
 * redelivers what the last one lacks and the offsets in the snapshots skip
 * the rest. Keys not yet snapshotted are kept in memory: a part of a batch
 * that needs their room first takes a snapshot.
 *
 * Aggregate entities (model baselines, pooled views) are not tied to one
 * partition's offsets: they are loaded once, before the first batch, and
 * snapshotted at most every `aggregates.snapshotEveryMs` and at `flush()`.
 * A restarted instance so keeps its models' baselines and the pooled views
 * it had (as of the last aggregate snapshot) instead of starting over.
 */
export class BatchProcessor {
  private aggregatesLoaded = false;
  private lastAggregateSave = Number.NEGATIVE_INFINITY;
  private lastSnapshot = Number.NEGATIVE_INFINITY;
  /** Least time from the last snapshot's start to the next one's while batches keep coming (`snapshotShare`). */
  private pacedGapMs = 0;
  /** Batches processed since the last `snapshotNow`: none means the processor sat idle since. */
  private batchesSinceCheck = 0;
  /** Per partition, the batches applied since the last snapshot: from the first one's first offset (`from`) to where they end (`offset`). */
  private readonly pending = new Map<string, CommitOffset & { from: string }>();
  /** Per partition, offsets a snapshot covers that were not handed back yet. */
  private readonly committable = new Map<string, CommitOffset>();
  /** Per partition, the offset the last snapshot covers, handed back or not: what a last commit at shutdown repeats. */
  private readonly covered = new Map<string, CommitOffset>();
  private readonly gate: EventGate;
  private readonly outbox: Outbox;
  /** The store lost its data (`PW_STATE_LOST`): the next key snapshot, or aggregate snapshot, writes everything in memory. */
  private keysLost = false;
  private aggregatesLost = false;
  private inFlight?: Promise<unknown>;
  constructor(private readonly deps: BatchProcessorDeps) {
    this.gate = new EventGate(deps.gate ?? DEFAULT_GATE_LIMITS, deps.pipeline.store);
    this.outbox = new Outbox(deps, (entry) => {
      for (const d of entry.deadLetters) deps.metrics?.deadLetters.inc({ code: d.error_code });
      if (entry.escalations.length) deps.alerts?.publish(entry.escalations);
    });
  }

  async process(batch: SourceBatch): Promise<BatchResult> {
    return this.exclusive(() => this.processOne(batch));
  }

  /** A batch or snapshot is in flight. */
  get busy(): boolean {
    return this.inFlight !== undefined;
  }

  /** Least time between two snapshots of the keys (0: after every batch). */
  get snapshotEveryMs(): number {
    return this.deps.snapshotEveryMs ?? 0;
  }

  /**
   * Between batches: a snapshot of the keys changed since the last one when
   * it is due (`force`: in any case), then the offsets that may be
   * committed. Called on a timer, so that a quiet topic still commits, and
   * at shutdown.
   */
  async snapshotNow(options: { force?: boolean; shouldContinue?: () => boolean; all?: boolean } = {}): Promise<CommitOffset[]> {
    return this.exclusive(async () => {
      const idle = this.batchesSinceCheck === 0;
      this.batchesSinceCheck = 0;
      // While outputs wait in the outbox no snapshot can be taken; only a forced one says so (the next batch sends them first).
      if (options.force || (this.snapshotDue(idle) && this.outbox.size === 0)) await this.snapshot({ logger: this.deps.logger, shouldContinue: options.shouldContinue });
      await this.saveAggregatesIfDue();
      // `all` (shutdown): also what was handed back before, in case its commit was dropped by a consumer already stopping.
      return options.all ? (this.committable.clear(), [...this.covered.values()]) : this.takeCommits();
    });
  }

  /** Runs `fn` once no batch or snapshot is in flight, and holds off others until it settles. */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.inFlight) await this.inFlight.catch(() => undefined);
    const run = fn();
    this.inFlight = run;
    try {
      return await run;
    } finally {
      this.inFlight = undefined;
    }
  }

  /** Runs `fn` when no batch is in flight (now, or as soon as the current one settles): how a reloaded config is swapped in. */
  async betweenBatches<T>(fn: () => T): Promise<T> {
    while (this.inFlight) await this.inFlight.catch(() => undefined);
    return fn();
  }

  private async processOne(batch: SourceBatch): Promise<BatchResult> {
    const { pipeline, metrics } = this.deps;
    const started = performance.now();
    this.batchesSinceCheck++;
    metrics?.eventsIn.inc(batch.messages.length);
    const wallNow = (this.deps.now ?? Date.now)();
    const decoded = decodeMessages(this.deps.codec, batch.topic, batch.partition, batch.messages, wallNow);
    const { deadLetters } = decoded;
    for (const d of deadLetters) metrics?.decodeErrors.inc({ code: d.error_code });
    const retry: Omit<RetryOptions, 'what'> = { logger: this.deps.logger, shouldContinue: batch.shouldContinue, onWait: batch.heartbeat };

    if (!this.aggregatesLoaded) await this.loadAggregates(retry);
    // Late, far-future and reshaped events are dead-lettered before they touch any state.
    const events: SourcedEvent[] = [];
    for (const e of decoded.events) {
      const refused = this.gate.check(e.event, `${batch.topic}/${e.partition}`, wallNow);
      if (!refused) events.push(e);
      else deadLetters.push({ raw: e.raw ?? Buffer.alloc(0), topic: batch.topic, partition: e.partition, offset: e.offset, error_code: refused.code, message: refused.message, ts: wallNow, reason: refused.reason ?? null });
    }
    for (const d of deadLetters) if (d.reason) metrics?.invalidEvents.inc({ reason: d.reason });
    pipeline.store.trackSaves();
    // A batch with more keys than memory holds goes in parts, each part's keys held from restore to snapshot.
    const parts = chunkByKeys(events, (e) => e.event.api_key, pipeline.store.capacity);
    let applied = 0;
    let skipped = 0;
    for (let i = 0; i < parts.length || i === 0; i++) {
      const r = await this.processPart(batch.partition, parts[i] ?? [], i === 0 ? deadLetters : [], retry);
      applied += r.applied;
      skipped += r.skipped;
    }
    const lastOffset = batch.messages.at(-1)?.offset;
    if (lastOffset !== undefined) {
      const at = `${batch.topic}\0${batch.partition}`;
      const from = this.pending.get(at)?.from ?? batch.messages[0].offset;
      this.pending.set(at, { topic: batch.topic, partition: batch.partition, from, offset: (BigInt(lastOffset) + 1n).toString() });
    }
    // One attempt, not retried: a store that is down costs the batch nothing (memory keeps the keys, offsets wait for a later snapshot).
    if (this.snapshotDue()) await this.snapshot({ logger: this.deps.logger, shouldContinue: () => false }).catch((err: unknown) => this.snapshotFailed(err));
    await this.saveAggregatesIfDue();
    metrics?.batchSeconds.observe((performance.now() - started) / 1000);
    return { applied, skipped, deadLetters: deadLetters.length, lastOffset, commits: this.takeCommits() };
  }

  /** A snapshot of the keys is due: the interval passed, and while batches keep coming (not `idle`) the paced gap too. */
  private snapshotDue(idle = false): boolean {
    const since = (this.deps.now ?? Date.now)() - this.lastSnapshot;
    return since >= this.snapshotEveryMs && (idle || since >= this.pacedGapMs);
  }

  /** After a snapshot that took `tookMs`: the gap that keeps snapshots within `snapshotShare` of the time. */
  private pace(tookMs: number): void {
    const { snapshotShare } = this.deps;
    const every = this.snapshotEveryMs;
    this.pacedGapMs = snapshotShare && every > 0 ? Math.min(tookMs / snapshotShare, every * SNAPSHOT_STRETCH_MAX) : 0;
  }

  /**
   * Saves every key changed since the last snapshot; the offsets applied so
   * far are then covered. Not while outputs wait in the outbox: the offsets
   * would cover events whose outputs a crash could lose. A store that lost
   * its data is rewritten in full: every key in memory, and the aggregates
   * at their next save. A failed save throws and changes nothing: the keys
   * stay in memory, unsaved, and the offsets uncommitted.
   */
  private async snapshot(retry: Omit<RetryOptions, 'what'>): Promise<void> {
    if (this.outbox.size) throw new ProbewatchError('PW_SINK', `no snapshot while ${this.outbox.size} outputs wait to be delivered`, { retriable: true });
    const now = this.deps.now ?? Date.now;
    this.lastSnapshot = now();
    try {
      await this.saveKeys(retry);
    } catch (err) {
      if (!isProbewatchError(err) || err.code !== 'PW_STATE_LOST') throw err;
      this.storeLost(err);
      await this.saveKeys(retry);
    } finally {
      this.pace(now() - this.lastSnapshot);
    }
    for (const [at, { topic, partition, offset }] of this.pending) {
      this.committable.set(at, { topic, partition, offset });
      this.covered.set(at, { topic, partition, offset });
    }
    this.pending.clear();
    await this.deps.faultPoint?.('after-snapshot');
  }

  private async saveKeys(retry: Omit<RetryOptions, 'what'>): Promise<void> {
    const store = this.deps.pipeline.store;
    const full = this.keysLost;
    const states = full ? [...store.entries()] : store.unsavedStates();
    if (states.length === 0 && !full) return;
    await withRetry(() => this.deps.snapshots.save(states, { full }), { ...retry, what: 'saving state snapshots' });
    this.keysLost = false;
    store.markSaved(states.map((s) => s.key));
    this.deps.metrics?.snapshotsWritten.inc(states.length);
  }

  /** The store no longer holds what was written to it: everything in memory is written again, keys and aggregates. */
  private storeLost(err: Error): void {
    this.keysLost = true;
    this.aggregatesLost = true;
    this.deps.pipeline.store.markAggregatesDirty();
    // The aggregates are written at the next batch, not at the end of their interval.
    this.lastAggregateSave = Number.NEGATIVE_INFINITY;
    this.deps.logger.warn({ code: (err as ProbewatchError).code, err: err.message }, 'snapshot store lost its data: rewriting every key and aggregate in memory');
  }

  /** A snapshot that failed between or inside batches: memory keeps everything, the next one retries. */
  private snapshotFailed(err: unknown): void {
    this.deps.logger.warn({ err }, 'snapshot failed; keys stay in memory and their offsets uncommitted until one succeeds');
  }

  private takeCommits(): CommitOffset[] {
    const commits = [...this.committable.values()];
    this.committable.clear();
    return commits;
  }

  /** One part of a batch, restore to snapshot, its keys pinned in memory throughout. */
  private async processPart(partition: number, events: readonly SourcedEvent[], deadLetters: DeadLetter[], retry: Omit<RetryOptions, 'what'>): Promise<{ applied: number; skipped: number }> {
    const { pipeline, metrics } = this.deps;
    // What an earlier batch failed to deliver goes first: nothing of this part is applied before it is acknowledged.
    await this.outbox.flush(retry);
    const keysInUse = new Set(events.map((e) => e.event.api_key));
    // Room for this part's keys is made by evicting keys already snapshotted: take a snapshot first if that would not be enough.
    const arriving = [...keysInUse].filter((k) => !pipeline.store.has(k)).length;
    if (arriving && pipeline.store.unsavedCount && pipeline.store.size + arriving > pipeline.store.capacity) await this.snapshot(retry);
    pipeline.store.pin(keysInUse);
    try {
      await this.restore(events, retry);
      const fresh = events.filter((e) => !this.alreadyApplied(e));
      const skipped = events.length - fresh.length;
      if (skipped) metrics?.duplicates.inc({ reason: 'offset' }, skipped);

      const out = pipeline.processBatch(fresh.map((e) => e.event));
      for (const e of fresh) {
        const state = pipeline.store.peek(e.event.api_key);
        if (!state) continue;
        (state.sourceOffsets ??= {})[String(e.partition)] = e.offset;
        pipeline.store.markChanged(state.key);
      }

      // Within a key, scores go out in the order they were computed.
      const risk: RiskScore[] = [...out.changes, ...out.updates].sort((a, b) => a.events_seen - b.events_seen);
      const kafka = risk.length || out.decisions.length || deadLetters.length || this.deps.pendingFacts?.() ? { risk, decisions: out.decisions, deadLetters } : undefined;
      // Queued behind what an earlier batch failed to deliver, and kept until acknowledged: these events are applied, a retry skips them.
      await this.outbox.send({ partition, kafka, redis: out.decisions.length ? out.decisions : undefined, escalations: out.escalations, deadLetters }, retry);

      return { applied: fresh.length, skipped };
    } finally {
      pipeline.store.unpin(keysInUse);
    }
  }

  /** Snapshots the aggregate entities changed since the last aggregate snapshot (at shutdown). */
  async flush(): Promise<void> {
    await this.saveAggregates({ logger: this.deps.logger }, (this.deps.now ?? Date.now)());
  }

  private async loadAggregates(retry: Omit<RetryOptions, 'what'>): Promise<void> {
    const load = this.deps.snapshots.loadAggregates?.bind(this.deps.snapshots);
    if (load && this.deps.aggregates) {
      const saved = await withRetry(load, { ...retry, what: 'loading aggregate snapshots' });
      const store = this.deps.pipeline.store;
      let restored = 0;
      for (const a of saved) if (this.deps.aggregates.entities.some((p) => a.entity.startsWith(p)) && store.putAggregate(a)) restored++;
      this.deps.metrics?.aggregatesRestored.inc(restored);
      if (restored) this.deps.logger.info({ aggregates: restored }, 'aggregate snapshots restored');
    }
    this.aggregatesLoaded = true;
  }

  /** Aggregates at most every `aggregates.snapshotEveryMs`, one attempt: a failure leaves them changed for the next. */
  private async saveAggregatesIfDue(): Promise<void> {
    const now = (this.deps.now ?? Date.now)();
    if (now - this.lastAggregateSave < (this.deps.aggregates?.snapshotEveryMs ?? 0)) return;
    await this.saveAggregates({ logger: this.deps.logger, shouldContinue: () => false }, now).catch((err: unknown) => this.snapshotFailed(err));
  }

  /** Saves the aggregates changed since the last save; those of a failed save are marked changed again. */
  private async saveAggregates(retry: Omit<RetryOptions, 'what'>, now: number): Promise<void> {
    const save = this.deps.snapshots.saveAggregates?.bind(this.deps.snapshots);
    if (!save || !this.deps.aggregates) return;
    this.lastAggregateSave = now;
    const store = this.deps.pipeline.store;
    const dirty = store.takeDirtyAggregates(this.deps.aggregates.entities);
    if (dirty.length === 0) return;
    const full = this.aggregatesLost;
    try {
      await withRetry(() => save(dirty, { full }), { ...retry, what: 'saving aggregate snapshots' });
    } catch (err) {
      store.markAggregatesDirty(dirty.map((a) => a.entity));
      if (!isProbewatchError(err) || err.code !== 'PW_STATE_LOST') throw err;
      this.storeLost(err);
      return this.saveAggregates(retry, now);
    }
    this.aggregatesLost = false;
    this.deps.metrics?.aggregatesWritten.inc(dirty.length);
  }

  /**
   * Forgets every key held in memory, with the offsets and outputs not yet
   * covered by a snapshot (after a consumer restart, which reads every
   * partition again from its committed offset): they reload from their
   * snapshots. Never after a failed batch: memory is what keeps the
   * events it applied, and a save that failed changes none of it.
   */
  reset(): void {
    this.retain(() => false);
  }

  /**
   * After a rebalance: keeps the keys whose partitions (those of the offsets
   * their state includes) pass `keep` — partitions this member kept through
   * the rebalance — and forgets the others, which reload from their
   * snapshots when next seen. Returns how many were kept and dropped.
   */
  retain(keep: (partitions: readonly number[]) => boolean): { kept: number; dropped: number } {
    const store = this.deps.pipeline.store;
    const drop = [...store.partitions()].filter(([, partitions]) => !keep(partitions)).map(([key]) => key);
    for (const key of drop) store.delete(key);
    // A lost partition's next owner reads again from its committed offset: what was applied here and not snapshotted, and its outputs, are its to redo.
    for (const offsets of [this.pending, this.committable, this.covered]) for (const [at, o] of offsets) if (!keep([o.partition])) offsets.delete(at);
    this.outbox.retain((p) => keep([p]));
    this.gate.reset();
    this.deps.metrics?.keysTracked.set(store.size);
    return { kept: store.size, dropped: drop.length };
  }

  private async restore(events: readonly SourcedEvent[], retry: Omit<RetryOptions, 'what'>) {
    const store = this.deps.pipeline.store;
    const missing = [...new Set(events.map((e) => e.event.api_key))].filter((k) => !store.has(k));
    if (missing.length === 0) return;
    const saved = await withRetry(() => this.deps.snapshots.load(missing), { ...retry, what: 'loading state snapshots' });
    for (const state of saved.values()) store.put(state);
    this.deps.metrics?.snapshotsRestored.inc(saved.size);
  }

  private alreadyApplied(e: SourcedEvent): boolean {
    const applied = this.deps.pipeline.store.peek(e.event.api_key)?.sourceOffsets?.[String(e.partition)];
    return applied !== undefined && BigInt(e.offset) <= BigInt(applied);
  }
}
