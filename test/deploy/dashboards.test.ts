import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DASHBOARD_DIR, DASHBOARDS, dashboardJson } from '../../deploy/grafana/dashboards-src/dashboards.ts';
import { dashboardSchemaErrors } from './dashboardSchema.ts';
import { exportedSeriesNames, probewatchSeriesIn } from './exportedMetrics.ts';

const provisioning = new URL('../../deploy/grafana/provisioning/', import.meta.url);
const checkedIn = (file: string) => readFileSync(new URL(file, DASHBOARD_DIR), 'utf8');

describe('Grafana dashboards as code', () => {
  it.each(DASHBOARDS.map((d) => [d.file, d] as const))('%s is checked in exactly as the code generates it (npm run deploy:dashboards)', (file, d) => {
    expect(checkedIn(file)).toBe(dashboardJson(d.build()));
  });

  it('checks in no dashboard the code does not generate', () => {
    expect(readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith('.json')).sort()).toEqual(DASHBOARDS.map((d) => d.file).sort());
  });

  it.each(DASHBOARDS.map((d) => [d.file] as const))("%s matches the Grafana Foundation SDK's dashboard and panel types", (file) => {
    expect(dashboardSchemaErrors(checkedIn(file))).toEqual([]);
  }, 90_000);

  it('the schema check rejects an unknown panel option, a value outside an enum and a missing required field', () => {
    const good = JSON.parse(checkedIn(DASHBOARDS[0].file));
    const withPanel = (patch: (panel: Record<string, any>) => void) => {
      const d = structuredClone(good);
      patch(d.panels.find((p: { type: string }) => p.type === 'timeseries'));
      return JSON.stringify(d, null, 2);
    };
    expect(dashboardSchemaErrors(withPanel((p) => (p.options.legend.placment = 'bottom'))).join('\n')).toMatch(/placment/);
    expect(dashboardSchemaErrors(withPanel((p) => (p.options.tooltip.mode = 'several'))).join('\n')).toMatch(/several/);
    expect(dashboardSchemaErrors(withPanel((p) => delete p.targets[0].expr)).join('\n')).toMatch(/expr/);
    expect(dashboardSchemaErrors(withPanel((p) => (p.gridPos.w = '12'))).join('\n')).toMatch(/string.*number|number/);
  }, 90_000);

  it('gives every panel a unique id, a title and a position on the 24-column grid; every query a unique refId', () => {
    for (const { file } of DASHBOARDS) {
      const d = JSON.parse(checkedIn(file));
      const ids = d.panels.map((p: { id: number }) => p.id);
      expect(new Set(ids).size, file).toBe(ids.length);
      for (const p of d.panels) {
        expect(p.title, `${file} panel ${p.id}`).toBeTruthy();
        expect(p.gridPos.x + p.gridPos.w, `${file} ${p.title}`).toBeLessThanOrEqual(24);
        const refIds = (p.targets ?? []).map((t: { refId: string }) => t.refId);
        expect(new Set(refIds).size, `${file} ${p.title}`).toBe(refIds.length);
        for (const t of p.targets ?? []) expect(t.datasource ?? p.datasource, `${file} ${p.title}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
      }
    }
  });

  it('queries only series probewatch exports', () => {
    const exported = exportedSeriesNames();
    for (const { file } of DASHBOARDS) {
      const d = JSON.parse(checkedIn(file));
      const exprs = [...d.panels.flatMap((p: { targets?: { expr: string }[] }) => (p.targets ?? []).map((t) => t.expr)), ...d.templating.list.map((v: { query?: string }) => v.query ?? '')];
      for (const expr of exprs) for (const name of probewatchSeriesIn(expr)) expect(exported, `${file}: ${expr}`).toContain(name);
    }
  });

  it('is loadable by provisioning: a file provider over the dashboards folder and a Prometheus data source', () => {
    const providers = parse(readFileSync(new URL('dashboards/probewatch.yaml', provisioning), 'utf8'));
    expect(providers.apiVersion).toBe(1);
    expect(providers.providers).toEqual([expect.objectContaining({ type: 'file', options: expect.objectContaining({ path: expect.any(String) }) })]);
    const sources = parse(readFileSync(new URL('datasources/prometheus.yaml', provisioning), 'utf8'));
    expect(sources.datasources).toEqual([expect.objectContaining({ type: 'prometheus', isDefault: true, url: expect.stringMatching(/^http:\/\//) })]);
    const uids = DASHBOARDS.map((d) => JSON.parse(checkedIn(d.file)).uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const uid of uids) expect(uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
  });
});
