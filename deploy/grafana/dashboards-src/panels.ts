/**
 * Shared pieces of the probewatch dashboards: the Prometheus data source
 * (chosen by the `datasource` variable), queries with stable refIds, and
 * the panel kinds the dashboards use, with the options set once here.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { DashboardLinkBuilder, DashboardLinkType, DatasourceVariableBuilder, MappingType, ThresholdsConfigBuilder, ThresholdsMode } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { parseConfig } from '../../../src/config/loadConfig.ts';
import { LEVELS } from '../../../src/contract.ts';

/** Every panel and variable queries the data source picked in the `datasource` variable. */
export const DATASOURCE: dashboard.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

export function datasourceVariable(): DatasourceVariableBuilder {
  return new DatasourceVariableBuilder('datasource').label('Prometheus').type('prometheus');
}

/** The other probewatch dashboards (by tag), keeping the time range and the data source. */
export const DASHBOARD_TAG = 'probewatch';
export function probewatchDashboardsLink(): DashboardLinkBuilder {
  return new DashboardLinkBuilder('probewatch').type(DashboardLinkType.Dashboards).tags([DASHBOARD_TAG]).asDropdown(true).keepTime(true).includeVars(false).targetBlank(false).icon('external link').tooltip('');
}

/** One PromQL query of a panel; refIds A, B, … in order. */
export interface Query {
  expr: string;
  legend?: string;
  /** A table of the latest values instead of a range. */
  instant?: boolean;
}

export function targets(queries: readonly Query[]): DataqueryBuilder[] {
  return queries.map((q, i) => {
    const b = new DataqueryBuilder().refId(String.fromCharCode(65 + i)).expr(q.expr);
    if (q.legend) b.legendFormat(q.legend);
    if (q.instant) b.instant().format(PromQueryFormat.Table);
    return b;
  });
}

/** Grafana grid: 24 columns; panels are placed left to right, top to bottom by the builder. */
export interface Size {
  w: number;
  h: number;
}

export function timeSeries(title: string, description: string, unit: string, queries: readonly Query[], size: Size, stacked = false): timeseries.PanelBuilder {
  const panel = new timeseries.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .unit(unit)
    .min(0)
    .span(size.w)
    .height(size.h)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
  if (stacked) panel.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal)).fillOpacity(30);
  for (const t of targets(queries)) panel.withTarget(t);
  return panel;
}

export function statPanel(title: string, description: string, queries: readonly Query[], size: Size, textMode: common.BigValueTextMode): stat.PanelBuilder {
  const panel = new stat.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .span(size.w)
    .height(size.h)
    .textMode(textMode)
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(common.BigValueColorMode.None)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
  for (const t of targets(queries)) panel.withTarget(t);
  return panel;
}

export function tablePanel(title: string, description: string, queries: readonly Query[], size: Size): table.PanelBuilder {
  const panel = new table.PanelBuilder().title(title).description(description).datasource(DATASOURCE).span(size.w).height(size.h);
  for (const t of targets(queries)) panel.withTarget(t);
  return panel;
}

/** Ladder levels by rank (the value of `probewatch_top_key_level`), green to red. */
const LEVEL_COLORS = ['green', 'blue', 'yellow', 'orange', 'red', 'dark-red'];

export function levelMappings(): dashboard.ValueMapping[] {
  return [{ type: MappingType.ValueToText, options: Object.fromEntries(LEVELS.map((level, rank) => [String(rank), { text: level, color: LEVEL_COLORS[rank], index: rank }])) }];
}

/** Risk in [0,1], coloured at the default ladder's thresholds (a deployment's own may differ). */
export function riskThresholds(): ThresholdsConfigBuilder {
  const t = parseConfig({}).policy.thresholds;
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
    { value: null, color: LEVEL_COLORS[0] },
    ...(['observe', 'throttle', 'truncate', 'deceive', 'block'] as const).map((level) => ({ value: t[level], color: LEVEL_COLORS[LEVELS.indexOf(level)] })),
  ]);
}
