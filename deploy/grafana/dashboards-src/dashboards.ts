import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { keyDashboard } from './keyDashboard.ts';
import { overviewDashboard } from './overviewDashboard.ts';

/** Where the generated dashboards are checked in; Grafana's file provider loads every JSON file there. */
export const DASHBOARD_DIR = new URL('../dashboards/', import.meta.url);

/** Every provisioned dashboard: its file name and the code that builds it. */
export const DASHBOARDS: readonly { file: string; build: () => Dashboard }[] = [
  { file: 'probewatch-overview.json', build: () => numberPanels(overviewDashboard()) },
  { file: 'probewatch-key.json', build: () => numberPanels(keyDashboard()) },
];

/** The JSON text checked in for a dashboard (stable: same code, same bytes). */
export function dashboardJson(dashboard: Dashboard): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}

/** Panel ids 1, 2, … in layout order (rows included), so links and provisioning see stable, unique ids. */
function numberPanels(dashboard: Dashboard): Dashboard {
  dashboard.panels?.forEach((panel, i) => {
    panel.id = i + 1;
  });
  return dashboard;
}
