import { epochParts } from '../../../src/baselines/epochParts.ts';
import { createKeyFeedState, type KeyFeedState } from '../../../src/baselines/KeyFeedState.ts';
import { ModelReferences } from '../../../src/baselines/ModelReferences.ts';
import { type ReferenceConfig, referenceSchema } from '../../../src/baselines/referenceSchema.ts';
import type { Compute } from '../../../src/compute/Compute.ts';
import type { InferenceEvent } from '../../../src/contract.ts';
import type { Detector, DetectorContext, KeyGroup } from '../../../detectors/types.ts';
import type { EntityStageLink } from '../../../detectors/shared/aggregateFacts.ts';

export interface DetectorRun {
  /** Score after each event, by event_id. */
  scores: Map<string, number>;
  /** Highest score each key reached. */
  maxByKey: Map<string, number>;
  /** Highest signature part each key reached (`DetectorOutput.signature`; the whole score of a `signature` detector). */
  maxSignatureByKey: Map<string, number>;
  /** Score and evidence after each key's last event. */
  lastScore: Map<string, number>;
  lastEvidence: Map<string, string[]>;
  /** Each event's evidence as of that event, by event_id (detectors with `explain` only). */
  evidenceByEvent: Map<string, string[]>;
  /**
   * The detector's per-key state and its aggregate entities, as the pipeline would snapshot them; the
   * model references live among the aggregates as `reference:<model>` (`{ reference: state }`), and
   * each key's feed-gate state in `feeds`.
   */
  states: Map<string, unknown>;
  aggregates: Map<string, unknown>;
  feeds: Map<string, KeyFeedState>;
}

/** The model reference's default config. */
export const DEFAULT_REFERENCE: ReferenceConfig = referenceSchema.parse({});

/** The model reference of a run (its persisted state), or undefined. */
export function referenceOf(run: DetectorRun, model: string): unknown {
  return (run.aggregates.get(`reference:${model}`) as { reference?: unknown } | undefined)?.reference;
}

/**
 * Runs one detector over a stream the way DetectionPipeline does: polls of
 * `batchSize` events cut at the model reference's epoch boundaries, grouped
 * by key in first-seen order, each group in event time, with per-detector
 * aggregate entities; after each poll the keys' queries are offered to the
 * model reference, kept out where this detector flags the key.
 */
export function runDetector(
  detector: Detector,
  events: readonly InferenceEvent[],
  compute: Compute,
  batchSize = 500,
  prior?: DetectorRun,
  reference: ReferenceConfig = DEFAULT_REFERENCE,
  /** The aggregate stage, as `run` hands it over with `aggregateStage.enabled`. */
  entityStage?: EntityStageLink,
): DetectorRun {
  const run: DetectorRun = prior ?? {
    scores: new Map(),
    maxByKey: new Map(),
    maxSignatureByKey: new Map(),
    lastScore: new Map(),
    lastEvidence: new Map(),
    evidenceByEvent: new Map(),
    states: new Map(),
    aggregates: new Map(),
    feeds: new Map(),
  };
  const references = new ModelReferences(reference, (model) => {
    const entity = `reference:${model}`;
    if (!run.aggregates.has(entity)) run.aggregates.set(entity, {});
    return run.aggregates.get(entity) as Record<string, unknown>;
  });
  const ctx: DetectorContext = {
    compute,
    entityStage,
    reference: (model) => references.get(model),
    aggregate<T>(entity: string, init: () => T): T {
      if (!run.aggregates.has(entity)) run.aggregates.set(entity, init());
      return run.aggregates.get(entity) as T;
    },
  };
  for (let i = 1; i < events.length; i++) if (events[i].ts < events[i - 1].ts) throw new Error('runDetector: events must be in event-time order');
  const polls: (readonly InferenceEvent[])[] = [];
  for (let start = 0; start < events.length; start += batchSize) polls.push(...epochParts(events.slice(start, start + batchSize), reference.epochMs));
  for (const poll of polls) {
    const byKey = new Map<string, InferenceEvent[]>();
    for (const e of poll) {
      let list = byKey.get(e.api_key);
      if (!list) byKey.set(e.api_key, (list = []));
      list.push(e);
    }
    const groups: KeyGroup<unknown>[] = [...byKey].map(([key, evs]) => {
      if (!run.states.has(key)) run.states.set(key, detector.initState());
      return { key, events: evs.sort((a, b) => a.ts - b.ts), state: run.states.get(key) };
    });
    references.begin(poll);
    const outputs = detector.processBatch(groups, ctx);
    const cut = reference.gate.excludeAboveScore;
    references.offerBatch(
      groups.map((g, k) => {
        if (!run.feeds.has(g.key)) run.feeds.set(g.key, createKeyFeedState());
        const o = outputs[k];
        return { key: g.key, events: g.events, feed: run.feeds.get(g.key)!, flagged: (i: number) => o.scores[i] >= cut || (o.keepOut !== undefined && o.keepOut[i] !== 0) };
      }),
    );
    references.end();
    groups.forEach((g, k) => {
      const out = outputs[k];
      if (out.scores.length !== g.events.length) throw new Error(`${detector.name}: ${out.scores.length} scores for ${g.events.length} events`);
      g.events.forEach((e, i) => {
        const s = out.scores[i];
        if (!(s >= 0 && s <= 1)) throw new Error(`${detector.name}: score ${s} outside [0,1]`);
        run.scores.set(e.event_id, s);
        run.maxByKey.set(g.key, Math.max(run.maxByKey.get(g.key) ?? 0, s));
        const signed = out.signature ? out.signature[i] : detector.signature ? s : 0;
        run.maxSignatureByKey.set(g.key, Math.max(run.maxSignatureByKey.get(g.key) ?? 0, signed));
        if (out.explain) run.evidenceByEvent.set(e.event_id, out.explain(i));
      });
      run.lastScore.set(g.key, out.scores[g.events.length - 1]);
      run.lastEvidence.set(g.key, out.evidence);
      run.states.set(g.key, g.state);
    });
  }
  return run;
}

/** Highest score among keys whose name starts with `prefix`. */
export function maxOver(run: DetectorRun, prefix: string): number {
  let m = 0;
  for (const [k, v] of run.maxByKey) if (k.startsWith(prefix)) m = Math.max(m, v);
  return m;
}
