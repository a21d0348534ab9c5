/**
 * The example gateway's entry point:
 * `npx tsx examples/gateway/main.ts -c examples/probewatch.yaml -g examples/gateway/gateway.yaml`
 * (or `npm run example:gateway`). See README.md next to this file.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig } from '../../src/config/loadConfig.ts';
import { isProbewatchError } from '../../src/errors.ts';
import { loadGatewayConfig } from './gatewayConfig.ts';
import { startGateway } from './startGateway.ts';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string', short: 'c' },
      gateway: { type: 'string', short: 'g', default: new URL('gateway.yaml', import.meta.url).pathname },
    },
  });
  const probewatch = loadConfig(values.config, process.env);
  const gateway = loadGatewayConfig(values.gateway!, process.env);
  const logger = pino({ level: gateway.logLevel, base: { service: 'example-gateway' } }, pino.destination({ fd: 2, sync: true }));
  const signalled = new Promise<string>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve(signal));
  });
  const running = await startGateway({ probewatch, gateway, env: process.env, logger });
  const signal = await signalled;
  logger.info({ signal }, 'shutting down');
  const events = await running.close();
  logger.info({ events }, 'stopped');
  return events.dropped.closed > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`example-gateway: ${isProbewatchError(err) ? err.message : (err as Error).stack}\n`);
    process.exitCode = isProbewatchError(err, 'PW_CONFIG') ? 2 : 1;
  },
);
