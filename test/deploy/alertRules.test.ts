import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { exportedSeriesNames, probewatchSeriesIn } from './exportedMetrics.ts';

const dir = (sub: string) => fileURLToPath(new URL(`../../deploy/prometheus/${sub}/`, import.meta.url));
const files = (sub: string) => readdirSync(dir(sub)).filter((f) => f.endsWith('.yml')).map((f) => dir(sub) + f);
const ruleFiles = files('rules');
const testFiles = files('tests');

interface AlertTest {
  alertname: string;
  exp_alerts: unknown[];
}
const rules = ruleFiles.flatMap((f) => (parse(readFileSync(f, 'utf8')) as { groups: { rules: { alert?: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules));
const cases = testFiles.flatMap((f) => (parse(readFileSync(f, 'utf8')) as { tests: { alert_rule_test: AlertTest[] }[] }).tests.flatMap((t) => t.alert_rule_test));

const promtool = spawnSync('promtool', ['--version']).status === 0;
// CI installs promtool (.ci/run); elsewhere a missing one skips the two promtool runs, never silently in CI.
const needsPromtool = it.skipIf(!promtool && !process.env.CI);

describe('Prometheus alert rules (deploy/prometheus)', () => {
  it('has the alerts the analysts need', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual(
      [
        'ProbewatchConfigChanged',
        'ProbewatchConsumerLagHigh',
        'ProbewatchDeadLetterRate',
        'ProbewatchDecisionsNotDelivered',
        'ProbewatchDetectorErrors',
        'ProbewatchKeyAtDeceiveOrBlock',
        'ProbewatchKeysAtTruncateRising',
        'ProbewatchSnapshotFailures',
      ].sort(),
    );
  });

  it('reads only series probewatch exports', () => {
    const exported = exportedSeriesNames();
    for (const r of rules) for (const name of probewatchSeriesIn(r.expr)) expect(exported, `${r.alert} reads ${name}`).toContain(name);
  });

  it('tests every alert both firing and staying quiet', () => {
    for (const r of rules) {
      const mine = cases.filter((c) => c.alertname === r.alert);
      expect(mine.some((c) => c.exp_alerts.length > 0), `${r.alert} fires in a test`).toBe(true);
      expect(mine.some((c) => c.exp_alerts.length === 0), `${r.alert} stays quiet in a test`).toBe(true);
    }
  });

  needsPromtool('pass promtool check rules', () => {
    const out = execFileSync('promtool', ['check', 'rules', ...ruleFiles], { encoding: 'utf8' });
    expect(out).toMatch(new RegExp(`SUCCESS: ${rules.length} rules found`));
  });

  needsPromtool('pass their promtool unit tests', () => {
    const run = spawnSync('promtool', ['test', 'rules', ...testFiles], { encoding: 'utf8' });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/SUCCESS/);
  });
});
