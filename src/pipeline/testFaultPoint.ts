import type { Logger } from '../observability/logger.ts';

/** Environment variable naming a fault point, for crash tests only: `after-snapshot` or `after-snapshot:N` (the Nth time). */
export const TEST_FAULT_ENV = 'PROBEWATCH_TEST_FAULT';

/** Where processing can be stopped: `after-snapshot` is after a snapshot of the keys is saved and before the offsets it covers are committed. */
export type FaultPoint = 'after-snapshot';

/**
 * A hook that, when `PROBEWATCH_TEST_FAULT` names a point, stops the batch
 * there for good (logging `fault point reached`) so that a crash test can
 * SIGKILL the process inside the window it names. Without the variable it
 * is undefined and costs nothing; nothing but a test sets it.
 */
export function testFaultPoint(env: Record<string, string | undefined>, logger: Logger): ((point: FaultPoint) => Promise<void>) | undefined {
  const spec = env[TEST_FAULT_ENV];
  if (!spec) return undefined;
  const [point, nth] = spec.split(':');
  const at = nth === undefined ? 1 : Number(nth);
  let reached = 0;
  logger.warn({ [TEST_FAULT_ENV]: spec }, 'test fault point armed');
  return async (p) => {
    if (p !== point || ++reached !== at) return;
    logger.warn({ point: p, times: reached }, 'fault point reached');
    await new Promise<never>(() => {});
  };
}
