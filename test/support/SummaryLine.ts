import type { Reporter } from 'vitest/reporters';

type Task = { type: string; mode?: string; result?: { state?: string }; tasks?: Task[] };

/**
 * Ends every test run with one plain line, `tests: N passed, N failed, N
 * skipped`, that CI systems read whatever the runner (vitest's own summary
 * is coloured and not in that form).
 */
export default class SummaryLine implements Reporter {
  onFinished(files: Task[] = []): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const walk = (t: Task) => {
      if (t.type === 'test') {
        if (t.result?.state === 'pass') counts.passed++;
        else if (t.result?.state === 'fail') counts.failed++;
        else counts.skipped++;
      }
      t.tasks?.forEach(walk);
    };
    files.forEach(walk);
    // A file that failed to load has no tests but is a failure.
    counts.failed += files.filter((f) => f.result?.state === 'fail' && !(f.tasks?.length)).length;
    process.stdout.write(`\ntests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  }
}
