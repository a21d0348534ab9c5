import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric probewatch exports, on one registry. Created once at the edge
 * and passed down; tests and replay use their own registry.
 */
export function createMetrics(registry = new Registry(), options: { defaultMetrics?: boolean } = {}) {
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'probewatch_process_' });
  const r = [registry];
  return {
    registry,
    eventsIn: new Counter({ name: 'probewatch_events_in_total', help: 'Events read from the source', registers: r }),
    eventsProcessed: new Counter({ name: 'probewatch_events_processed_total', help: 'Events run through the detectors', registers: r }),
    duplicates: new Counter({ name: 'probewatch_events_duplicate_total', help: 'Events not applied again: redelivered at an offset the key state already covers (reason=offset) or an event_id the key saw recently (reason=event_id)', labelNames: ['reason'], registers: r }),
    decodeErrors: new Counter({ name: 'probewatch_decode_errors_total', help: 'Messages that could not be decoded or validated', labelNames: ['code'], registers: r }),
    invalidEvents: new Counter({ name: 'probewatch_invalid_events_total', help: 'Events refused (dead-lettered) by validation, by reason (InvalidEventReason)', labelNames: ['reason'], registers: r }),
    deadLetters: new Counter({ name: 'probewatch_dead_letters_total', help: 'Messages sent to the dead-letter topic', labelNames: ['code'], registers: r }),
    batchSeconds: new Histogram({
      name: 'probewatch_batch_duration_seconds',
      help: 'Time to process one batch, decode to acknowledged outputs',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: r,
    }),
    offsetResets: new Counter({ name: 'probewatch_offset_resets_total', help: 'Partitions reset past their committed offset because the broker no longer held it (messages skipped)', labelNames: ['topic', 'partition'], registers: r }),
    offsetsSkipped: new Counter({ name: 'probewatch_offsets_skipped_total', help: 'Messages skipped by offset resets (between the committed offset and the log start)', labelNames: ['topic', 'partition'], registers: r }),
    consumerLag: new Gauge({ name: 'probewatch_consumer_lag', help: 'Messages behind the partition high watermark', labelNames: ['topic', 'partition'], registers: r }),
    keysTracked: new Gauge({ name: 'probewatch_keys_tracked', help: 'Keys with state in memory', registers: r }),
    aggregateEntities: new Gauge({ name: 'probewatch_aggregate_entities', help: 'Aggregate entities held in memory, by kind (ip, prefix, tenant, model, geo), each capped by state.maxEntities', labelNames: ['kind'], registers: r }),
    aggregateEntitiesEvicted: new Counter({ name: 'probewatch_aggregate_entities_evicted_total', help: 'Aggregate entities dropped from memory: capacity (past state.maxEntities for the kind) or idle', labelNames: ['kind', 'reason'], registers: r }),
    keysEvicted: new Counter({ name: 'probewatch_keys_evicted_total', help: 'Keys evicted from memory: capacity (past state.maxKeys, least recently used key not in the batch in hand), idle, unsaved (changes not yet snapshotted: should stay 0)', labelNames: ['reason'], registers: r }),
    decisions: new Counter({ name: 'probewatch_decisions_total', help: 'Decisions published, by level', labelNames: ['level', 'shadow'], registers: r }),
    levelChanges: new Counter({ name: 'probewatch_level_changes_total', help: 'Key level changes, by new level', labelNames: ['level'], registers: r }),
    detectorErrors: new Counter({ name: 'probewatch_detector_errors_total', help: 'Detector batches that threw (the others carried on)', labelNames: ['detector'], registers: r }),
    computeBackend: new Gauge({ name: 'probewatch_compute_backend_info', help: 'TensorFlow.js backend in use (value 1)', labelNames: ['backend'], registers: r }),
    configInfo: new Gauge({ name: 'probewatch_config_info', help: 'sha256 of the live detector and policy configuration (value 1)', labelNames: ['sha256'], registers: r }),
    snapshotsWritten: new Counter({ name: 'probewatch_state_snapshots_written_total', help: 'Key state snapshots written', registers: r }),
    snapshotsRestored: new Counter({ name: 'probewatch_state_snapshots_restored_total', help: 'Key states restored from snapshots', registers: r }),
    aggregatesWritten: new Counter({ name: 'probewatch_aggregate_snapshots_written_total', help: 'Aggregate entity snapshots written (model baselines, pooled views)', registers: r }),
    aggregatesRestored: new Counter({ name: 'probewatch_aggregate_snapshots_restored_total', help: 'Aggregate entities restored from snapshots at start', registers: r }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
