/**
 * `npm run deploy:dashboards`: writes each dashboard's JSON into
 * deploy/grafana/dashboards/. With `--check` it writes nothing and exits 1
 * when a checked-in file differs from what the code generates.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { DASHBOARD_DIR, DASHBOARDS, dashboardJson } from './dashboards.ts';

const check = process.argv.includes('--check');
let stale = 0;
for (const { file, build } of DASHBOARDS) {
  const path = new URL(file, DASHBOARD_DIR);
  const json = dashboardJson(build());
  if (!check) {
    writeFileSync(path, json);
    console.log(`wrote ${path.pathname}`);
    continue;
  }
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    // Missing counts as stale.
  }
  if (current !== json) {
    stale++;
    console.error(`${path.pathname} is not what the code generates: run npm run deploy:dashboards`);
  }
}
process.exitCode = stale ? 1 : 0;
