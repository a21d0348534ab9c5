import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { LEVELS, levelRank } from '../contract.ts';
import { type KeyStateSource, countByLevel, topKeys } from './keyStateGauges.ts';

/** Keys exported one by one (risk, level, detector scores): the top of the ladder, so label cardinality stays bounded. */
export const TOP_KEYS = 20;

/**
 * Every metric probewatch exports, on one registry. Created once at the edge
 * and passed down; tests and replay use their own registry.
 */
export function createMetrics(registry = new Registry(), options: { defaultMetrics?: boolean; topKeys?: number } = {}) {
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'probewatch_process_' });
  const r = [registry];
  // The per-key gauges are read from the keys in memory at scrape time (set by observeKeys), not kept up to date per event.
  let keySource: KeyStateSource | undefined;
  const top = () => (keySource ? topKeys(keySource(), options.topKeys ?? TOP_KEYS) : []);
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
    keysPacked: new Gauge({ name: 'probewatch_keys_packed', help: 'Keys in memory held packed: no event for state.packAfterIdleMs (counted in probewatch_keys_tracked too)', registers: r }),
    calibrationPeers: new Gauge({ name: 'probewatch_calibration_peers', help: 'Keys held in the peer-calibration tables, all models (capped at calibration.maxKeysPerModel per model)', registers: r }),
    aggregateEntities: new Gauge({ name: 'probewatch_aggregate_entities', help: 'Aggregate entities held in memory, by kind (ip, prefix, tenant, model, geo), each capped by state.maxEntities', labelNames: ['kind'], registers: r }),
    aggregateEntitiesEvicted: new Counter({ name: 'probewatch_aggregate_entities_evicted_total', help: 'Aggregate entities dropped from memory: capacity (past state.maxEntities for the kind) or idle', labelNames: ['kind', 'reason'], registers: r }),
    keysEvicted: new Counter({ name: 'probewatch_keys_evicted_total', help: 'Keys evicted from memory: capacity (past state.maxKeys, least recently used key not in the batch in hand), idle, unsaved (changes not yet snapshotted: should stay 0)', labelNames: ['reason'], registers: r }),
    decisions: new Counter({ name: 'probewatch_decisions_total', help: 'Decisions published, by level', labelNames: ['level', 'shadow'], registers: r }),
    levelChanges: new Counter({ name: 'probewatch_level_changes_total', help: 'Key level changes, by new level', labelNames: ['level'], registers: r }),
    persistenceSteps: new Counter({ name: 'probewatch_persistence_steps_total', help: 'Keys stepped up a rung for going on calling under a response (policy.persistence), by the level they left and the one they reached', labelNames: ['from', 'to'], registers: r }),
    detectorErrors: new Counter({ name: 'probewatch_detector_errors_total', help: 'Detector batches that threw (the others carried on)', labelNames: ['detector'], registers: r }),
    computeBackend: new Gauge({ name: 'probewatch_compute_backend_info', help: 'TensorFlow.js backend in use (value 1)', labelNames: ['backend'], registers: r }),
    computeKernelBackend: new Gauge({ name: 'probewatch_compute_kernel_backend', help: 'Where each Compute kernel runs (value 1): js, or the TensorFlow.js backend, chosen at start-up', labelNames: ['kernel', 'backend'], registers: r }),
    configInfo: new Gauge({ name: 'probewatch_config_info', help: 'sha256 of the live detector and policy configuration (value 1)', labelNames: ['sha256'], registers: r }),
    snapshotsWritten: new Counter({ name: 'probewatch_state_snapshots_written_total', help: 'Key state snapshots written', registers: r }),
    snapshotsRestored: new Counter({ name: 'probewatch_state_snapshots_restored_total', help: 'Key states restored from snapshots', registers: r }),
    aggregatesWritten: new Counter({ name: 'probewatch_aggregate_snapshots_written_total', help: 'Aggregate entity snapshots written (model baselines, pooled views)', registers: r }),
    decisionStoreRestores: new Counter({ name: 'probewatch_decision_store_restores_total', help: 'Times the decision store was found empty and its live decisions re-published', registers: r }),
    decisionsRestored: new Counter({ name: 'probewatch_decisions_restored_total', help: 'Live decisions re-published into an emptied decision store', registers: r }),
    dependencyStuck: new Gauge({ name: 'probewatch_dependency_stuck', help: '1 while calls to the dependency (redis, kafka) have waited past health.stuckAfterMs', labelNames: ['dependency'], registers: r }),
    aggregateFacts: new Counter({ name: 'probewatch_aggregate_facts_total', help: 'Facts the per-key stage published to the aggregate stage (aggregateStage.enabled)', registers: r }),
    // Both results exported at 0 from the start, so the dashboard's panel has a series on every instance.
    aggregateStageFacts: zeroed(new Counter({ name: 'probewatch_aggregate_stage_facts_total', help: 'Facts the aggregate stage read: pooled (result=applied) or already in its partition snapshot (result=skipped)', labelNames: ['result'], registers: r }), 'result', ['applied', 'skipped']),
    groupReadings: new Counter({ name: 'probewatch_group_readings_total', help: 'Entity readings received from the aggregate stage (group evidence topic)', registers: r }),
    aggregatesRestored: new Counter({ name: 'probewatch_aggregate_snapshots_restored_total', help: 'Aggregate entities restored from snapshots at start', registers: r }),
    detectorScore: new Histogram({
      name: 'probewatch_detector_score',
      help: "Each detector's score per event, in [0,1] (0: no signal or abstained)",
      labelNames: ['detector'],
      buckets: [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99],
      registers: r,
    }),
    groupDecisions: new Counter({ name: 'probewatch_group_decisions_total', help: 'Group decisions published (advisory: a tenant, network prefix or geometry group whose pooled evidence reached a level), by scope and level', labelNames: ['scope', 'level'], registers: r }),
    keySuccessions: new Counter({ name: 'probewatch_key_successions_total', help: 'Fresh keys linked as the continuation of a flagged key of the same model (key rotation), which carry its risk', registers: r }),
    successionKeysRemembered: new Gauge({ name: 'probewatch_succession_keys_remembered', help: 'Flagged keys remembered as possible predecessors of a fresh key (over all models)', registers: r }),
    groupLadders: new Gauge({ name: 'probewatch_group_ladders', help: 'Groups whose response ladder is held (capped at policy.groupDecisions.maxGroups)', registers: r }),
    decisionsByDetector: new Counter({ name: 'probewatch_decisions_by_detector_total', help: 'Decisions published, by level and by the detector contributing most to the risk (none: no detector scored)', labelNames: ['level', 'detector'], registers: r }),
    outputFailures: new Counter({ name: 'probewatch_output_failures_total', help: 'Failed attempts to publish outputs (kafka: risk scores, decisions, dead letters; redis: decisions), retried or not', labelNames: ['output'], registers: r }),
    snapshotFailures: new Counter({ name: 'probewatch_state_snapshot_failures_total', help: 'Failed attempts to save or load key and aggregate state snapshots', labelNames: ['op'], registers: r }),
    keysAtLevel: new Gauge({
      name: 'probewatch_keys_at_level',
      help: 'Keys in memory at each level of the ladder',
      labelNames: ['level'],
      registers: r,
      collect() {
        if (!keySource) return;
        const counts = countByLevel(keySource());
        for (const level of LEVELS) this.set({ level }, counts[level]);
      },
    }),
    topKeyRisk: new Gauge({
      name: 'probewatch_top_key_risk',
      help: `Risk of the keys highest on the ladder, then by risk (at most ${options.topKeys ?? TOP_KEYS} per instance; a key leaving the top is removed)`,
      labelNames: ['api_key'],
      registers: r,
      collect() {
        this.reset();
        for (const s of top()) this.set({ api_key: s.key }, s.risk);
      },
    }),
    topKeyLevel: new Gauge({
      name: 'probewatch_top_key_level',
      help: 'Ladder level of the top keys as its rank: 0 allow, 1 observe, 2 throttle, 3 truncate, 4 deceive, 5 block',
      labelNames: ['api_key'],
      registers: r,
      collect() {
        this.reset();
        for (const s of top()) this.set({ api_key: s.key }, levelRank(s.ladder.level));
      },
    }),
    topKeyDetectorScore: new Gauge({
      name: 'probewatch_top_key_detector_score',
      help: "Each detector's last score of the top keys",
      labelNames: ['api_key', 'detector'],
      registers: r,
      collect() {
        this.reset();
        for (const s of top()) for (const [detector, score] of Object.entries(s.scores)) this.set({ api_key: s.key, detector }, score);
      },
    }),
    /** Points the per-key gauges (keys at each level, top keys) at the keys in memory; read at each scrape. */
    observeKeys(source: KeyStateSource): void {
      keySource = source;
    },
    configReloads: new Counter({ name: 'probewatch_config_reload_total', help: 'Config reloads (SIGHUP or watched file), by result: applied, unchanged, refused (invalid; the old config stays live)', labelNames: ['result'], registers: r }),
    configRestartPending: new Gauge({ name: 'probewatch_config_restart_pending', help: 'Settings changed in the config that cannot change live and wait for a restart', registers: r }),
    alerts: new Counter({ name: 'probewatch_alerts_total', help: 'Alerts to SIEM destinations, by target and result: sent, dropped (queue full or shutdown), failed (gave up)', labelNames: ['target', 'result'], registers: r }),
    alertQueue: new Gauge({ name: 'probewatch_alert_queue_length', help: 'Alerts waiting for delivery, by target', labelNames: ['target'], registers: r }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** `counter` with each of `values` of its `label` exported at 0. */
function zeroed<L extends string>(counter: Counter<L>, label: L, values: readonly string[]): Counter<L> {
  for (const v of values) counter.inc({ [label]: v } as Partial<Record<L, string>>, 0);
  return counter;
}
