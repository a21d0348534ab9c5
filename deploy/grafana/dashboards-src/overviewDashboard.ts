import { BigValueTextMode } from '@grafana/grafana-foundation-sdk/common';
import { type Dashboard, DashboardBuilder, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { LEVELS } from '../../../src/contract.ts';
import { TOP_KEYS } from '../../../src/observability/metrics.ts';
import { KEY_DASHBOARD_UID } from './keyDashboard.ts';
import { DASHBOARD_TAG, datasourceVariable, levelMappings, riskThresholds, statPanel, tablePanel, timeSeries, probewatchDashboardsLink } from './panels.ts';

export const OVERVIEW_DASHBOARD_UID = 'probewatch-overview';

/** A decision counts once: `shadow="detector"` marks the extra count of the shadowed detectors' own ladder. */
const ENFORCED_OR_SHADOW = 'shadow!="detector"';

/**
 * What a SOC analyst watches: is probewatch keeping up (events, lag, dead
 * letters, failures), how many keys sit at each level and which detectors
 * drive the decisions, the keys highest on the ladder (each a link to the
 * key's own dashboard), and what is running (compute backend, config hash).
 */
export function overviewDashboard(): Dashboard {
  return new DashboardBuilder('probewatch: overview')
    .uid(OVERVIEW_DASHBOARD_UID)
    .description('Model-extraction detection: throughput, keys on the response ladder, detectors, top keys and the live configuration')
    .tags([DASHBOARD_TAG])
    .link(probewatchDashboardsLink())
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .withVariable(datasourceVariable())

    .withRow(new RowBuilder('Traffic'))
    .withPanel(
      timeSeries('Events per second', 'Events read from the topic, and those run through the detectors (the rest were dead letters or redelivered).', 'ops', [
        { expr: 'sum(rate(probewatch_events_in_total[$__rate_interval]))', legend: 'read' },
        { expr: 'sum(rate(probewatch_events_processed_total[$__rate_interval]))', legend: 'processed' },
      ], { w: 8, h: 8 }),
    )
    .withPanel(
      timeSeries('Consumer lag', 'Messages behind the high watermark, per partition of the events topic, as of each instance’s last batch.', 'short', [
        { expr: 'sum by (topic, partition) (probewatch_consumer_lag)', legend: '{{topic}} [{{partition}}]' },
      ], { w: 8, h: 8 }),
    )
    .withPanel(
      timeSeries('Dead letters by code', 'Messages that could not be decoded or validated, sent to the dead-letter topic, by error code.', 'ops', [
        { expr: 'sum by (code) (rate(probewatch_dead_letters_total[$__rate_interval]))', legend: '{{code}}' },
      ], { w: 8, h: 8 }),
    )

    .withRow(new RowBuilder('Keys and decisions'))
    .withPanel(
      statPanel('Keys at each level now', 'Keys held in memory at each level of the response ladder, summed over instances.', LEVELS.map((level) => ({
        expr: `sum(probewatch_keys_at_level{level="${level}"})`,
        legend: level,
      })), { w: 24, h: 5 }, BigValueTextMode.ValueAndName),
    )
    .withPanel(
      timeSeries('Decisions by level', 'Decisions published per second (level changes and refreshes before expiry); shadow="true" ones are published but not enforced.', 'ops', [
        { expr: `sum by (level, shadow) (rate(probewatch_decisions_total{${ENFORCED_OR_SHADOW}}[$__rate_interval]))`, legend: '{{level}} (shadow {{shadow}})' },
      ], { w: 12, h: 8 }, true),
    )
    .withPanel(
      timeSeries('Decisions by detector', 'Decisions per second, by the detector contributing most to the key’s risk when it was issued.', 'ops', [
        { expr: 'sum by (detector, level) (rate(probewatch_decisions_by_detector_total[$__rate_interval]))', legend: '{{detector}} → {{level}}' },
      ], { w: 12, h: 8 }, true),
    )
    .withPanel(
      timeSeries('Keys stepped up for calling on under a response', 'Keys moved up a rung by policy.persistence: they went on calling at truncate or above and their risk still held the level (a label-only thief loses nothing to truncation). Their RiskScores and Decisions say so first.', 'ops', [
        { expr: 'sum by (from, to) (rate(probewatch_persistence_steps_total[$__rate_interval]))', legend: '{{from}} → {{to}}' },
      ], { w: 24, h: 6 }),
    )
    .withPanel(
      tablePanel('Top keys by risk', `The keys highest on the ladder, then by risk (at most ${TOP_KEYS} per instance). A key links to its own dashboard.`, [
        { expr: `topk(${TOP_KEYS}, max by (api_key) (probewatch_top_key_risk))`, instant: true },
        { expr: `max by (api_key) (probewatch_top_key_level) and on (api_key) topk(${TOP_KEYS}, max by (api_key) (probewatch_top_key_risk))`, instant: true },
      ], { w: 24, h: 10 })
        .withTransformation({ id: 'merge', options: {} })
        .withTransformation({ id: 'organize', options: { excludeByName: { Time: true }, renameByName: { 'Value #A': 'risk', 'Value #B': 'level' }, indexByName: { api_key: 0, 'Value #B': 1, 'Value #A': 2 } } })
        .withTransformation({ id: 'sortBy', options: { sort: [{ field: 'risk', desc: true }] } })
        .overrideByName('level', [{ id: 'mappings', value: levelMappings() }, { id: 'custom.cellOptions', value: { type: 'color-text' } }])
        .overrideByName('risk', [{ id: 'thresholds', value: riskThresholds().build() }, { id: 'custom.cellOptions', value: { type: 'color-background' } }, { id: 'decimals', value: 3 }])
        .overrideByName('api_key', [
          { id: 'links', value: [{ title: 'Investigate ${__value.raw}', url: `/d/${KEY_DASHBOARD_UID}?var-key=\${__value.raw}&\${datasource:queryparam}&\${__url_time_range}` }] },
        ]),
    )

    .withRow(new RowBuilder('Detectors'))
    .withPanel(
      timeSeries('Detector firing rate', 'Events per second on which each detector scored above 0.5.', 'ops', [
        {
          expr: 'sum by (detector) (rate(probewatch_detector_score_count[$__rate_interval])) - sum by (detector) (rate(probewatch_detector_score_bucket{le="0.5"}[$__rate_interval]))',
          legend: '{{detector}}',
        },
      ], { w: 12, h: 8 }),
    )
    .withPanel(
      timeSeries('Detector errors', 'Detector batches that threw: the detector scored 0 for that batch and the others carried on.', 'ops', [
        { expr: 'sum by (detector) (rate(probewatch_detector_errors_total[$__rate_interval]))', legend: '{{detector}}' },
      ], { w: 12, h: 8 }),
    )

    .withRow(new RowBuilder('Runtime'))
    .withPanel(
      statPanel('Compute backend', 'TensorFlow.js backend each instance chose at start (tfjs-node-gpu, tfjs-node, wasm or cpu), with the number of instances on it.', [
        { expr: 'count by (backend) (probewatch_compute_backend_info)', legend: '{{backend}}' },
      ], { w: 6, h: 6 }, BigValueTextMode.ValueAndName),
    )
    .withPanel(
      tablePanel('Live configuration', 'sha256 of the detector and policy configuration each instance runs, with the number of instances on it. More than one row: instances disagree or a change is rolling out.', [
        { expr: 'count by (sha256) (probewatch_config_info)', instant: true },
      ], { w: 10, h: 6 })
        .withTransformation({ id: 'organize', options: { excludeByName: { Time: true }, renameByName: { Value: 'instances' } } }),
    )
    .withPanel(
      timeSeries('Output and snapshot failures', 'Failed attempts to publish outputs (Kafka; decisions to Redis) and to save or load state snapshots; each is retried.', 'ops', [
        { expr: 'sum by (output) (rate(probewatch_output_failures_total[$__rate_interval]))', legend: 'output {{output}}' },
        { expr: 'sum by (op) (rate(probewatch_state_snapshot_failures_total[$__rate_interval]))', legend: 'snapshot {{op}}' },
      ], { w: 8, h: 6 }),
    )
    .withPanel(
      timeSeries('Aggregate stage', 'With aggregateStage.enabled: facts the per-key stages publish for the entity-keyed aggregate stage, facts that stage pools (or skips as already in its snapshot), and group readings the per-key stages receive back. Empty when the stage is off (one instance pools on its own).', 'ops', [
        { expr: 'sum(rate(probewatch_aggregate_facts_total[$__rate_interval]))', legend: 'facts sent' },
        { expr: 'sum by (result) (rate(probewatch_aggregate_stage_facts_total[$__rate_interval]))', legend: 'stage {{result}}' },
        { expr: 'sum(rate(probewatch_group_readings_total[$__rate_interval]))', legend: 'readings received' },
      ], { w: 24, h: 6 }),
    )
    .build();
}
