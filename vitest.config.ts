import { defineConfig } from 'vitest/config';

// Unit tests need nothing but Node; integration tests need the broker
// (PROBEWATCH_TEST_BROKERS, started by .ci/run) and Redis at 127.0.0.1:6379.
export default defineConfig({
  test: {
    reporters: ['default', './test/support/SummaryLine.ts'],
    projects: [
      // Timeouts are hang guards, not speed checks: on a loaded 2-core machine a world-simulating unit test has taken over 30 s.
      { test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/integration/**'], testTimeout: 120_000 } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
