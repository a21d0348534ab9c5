import { type Dashboard, DashboardBuilder, QueryVariableBuilder, VariableRefresh, VariableSort } from '@grafana/grafana-foundation-sdk/dashboard';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as text from '@grafana/grafana-foundation-sdk/text';
import { TOP_KEYS } from '../../../src/observability/metrics.ts';
import { DASHBOARD_TAG, DATASOURCE, datasourceVariable, levelMappings, riskThresholds, targets, timeSeries, probewatchDashboardsLink } from './panels.ts';

export const KEY_DASHBOARD_UID = 'probewatch-key';

const ABOUT = `One API key's risk, level and detector scores over time. Prometheus holds a key's series while it is among the
${TOP_KEYS} keys highest on the ladder at its instance (\`probewatch_top_key_*\`), which covers every key worth investigating
without one series per key. For the whole story of any key (evidence sentences, decisions and their TTLs), use
\`probewatch explain KEY\` on the risk topic or a recorded stream.`;

/** The analyst's view of one key, chosen in the `key` variable (or followed from the overview's top keys). */
export function keyDashboard(): Dashboard {
  const key = 'api_key="$key"';
  return new DashboardBuilder('probewatch: key')
    .uid(KEY_DASHBOARD_UID)
    .description('One API key: risk and level over time, each detector’s score, alerts')
    .tags([DASHBOARD_TAG])
    .link(probewatchDashboardsLink())
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .withVariable(datasourceVariable())
    .withVariable(
      new QueryVariableBuilder('key')
        .label('API key')
        .description('Keys that were among the top keys in the time range')
        .datasource(DATASOURCE)
        .query('label_values(probewatch_top_key_risk, api_key)')
        .definition('label_values(probewatch_top_key_risk, api_key)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc),
    )
    .withPanel(new text.PanelBuilder().title('About this dashboard').mode(text.TextMode.Markdown).content(ABOUT).span(24).height(4))
    .withPanel(
      timeSeries('Risk', 'The key’s fused risk in [0,1]; colours mark the default ladder thresholds.', 'none', [{ expr: `max(probewatch_top_key_risk{${key}})`, legend: 'risk' }], { w: 24, h: 8 })
        .max(1)
        .thresholds(riskThresholds()),
    )
    .withPanel(
      new statetimeline.PanelBuilder()
        .title('Level')
        .description('The key’s level on the response ladder.')
        .datasource(DATASOURCE)
        .withTarget(targets([{ expr: `max(probewatch_top_key_level{${key}})`, legend: 'level' }])[0])
        .mappings(levelMappings())
        .span(24)
        .height(5),
    )
    .withPanel(
      timeSeries('Detector scores', 'Each detector’s last score of the key, in [0,1].', 'none', [{ expr: `max by (detector) (probewatch_top_key_detector_score{${key}})`, legend: '{{detector}}' }], { w: 24, h: 10 }).max(1),
    )
    .withPanel(
      timeSeries('Alerts for this key', 'probewatch alert rules pending (1) or firing for the key.', 'none', [{ expr: `max by (alertname, alertstate) (ALERTS{${key}})`, legend: '{{alertname}} {{alertstate}}' }], { w: 24, h: 6 }),
    )
    .build();
}
