import { Command, CommanderError } from 'commander';
import { loadConfig } from '../config/loadConfig.ts';
import { isProbewatchError } from '../errors.ts';
import { createLogger } from '../observability/logger.ts';

/**
 * The command line: `run`, `replay`, `check-config`, `demo`. Returns the exit
 * code; config and usage errors print one clear message, never a stack.
 */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command()
    .name('probewatch')
    .description('Detects model-extraction attacks on ML inference APIs and drives graduated responses')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('run')
    .description('consume events from Kafka, publish risk scores and decisions to Kafka and Redis, serve /metrics and /healthz')
    .option('-c, --config <file>', 'YAML config file (environment overrides apply on top)')
    .action(async (opts: { config?: string }) => {
      const config = loadConfig(opts.config, process.env);
      const { runCommand } = await import('./run.ts');
      code = await runCommand({ config, env: process.env, logger: createLogger(config.logLevel) });
    });

  program
    .command('replay')
    .description('run the detectors over a recorded stream (NDJSON, - for stdin, or Avro container) and print RiskScores as NDJSON')
    .argument('<file>', 'recorded events, or - for stdin')
    .option('-c, --config <file>', 'YAML config file to evaluate')
    .option('--batch <n>', 'events per batch (speed only)', (v) => parseInt(v, 10), 2048)
    .action(async (file: string, opts: { config?: string; batch: number }) => {
      const config = loadConfig(opts.config, process.env);
      const { replay } = await import('./replay.ts');
      const summary = await replay(file, config, { batchSize: opts.batch, out: process.stdout, err: process.stderr });
      process.stderr.write(
        `replayed ${summary.events} events (${summary.skipped} skipped) over ${summary.keys} keys in ${summary.seconds.toFixed(2)} s\n`,
      );
    });

  program
    .command('check-config')
    .description('validate a config file (and the environment overrides) and print the effective config')
    .argument('<file>', 'YAML config file')
    .option('-q, --quiet', 'print nothing on success')
    .action(async (file: string, opts: { quiet?: boolean }) => {
      const config = loadConfig(file, process.env);
      const { detectionConfigHash } = await import('../config/loadConfig.ts');
      if (!opts.quiet) {
        process.stdout.write(`${file}: valid (detection config sha256 ${detectionConfigHash(config)})\n`);
        process.stdout.write(JSON.stringify(config, null, 2) + '\n');
      }
    });

  program
    .command('demo')
    .description('run the real pipeline on in-memory transport with simulated benign users and attackers')
    .option('-c, --config <file>', 'YAML config file')
    .option('--minutes <n>', 'simulated minutes of traffic', (v) => parseInt(v, 10), 30)
    .option('--speed <x>', 'simulated seconds per real second (0 = as fast as possible)', (v) => parseFloat(v), 600)
    .option('--seed <n>', 'random seed', (v) => parseInt(v, 10), 7)
    .action(async (opts: { config?: string; minutes: number; speed: number; seed: number }) => {
      const config = loadConfig(opts.config, process.env);
      const { demo } = await import('./demo.ts');
      code = await demo(config, { ...opts, out: process.stdout });
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (isProbewatchError(err)) {
      process.stderr.write(`probewatch: ${err.message}\n`);
      return err.code === 'PW_CONFIG' || err.code === 'PW_USAGE' ? 2 : 1;
    }
    throw err;
  }
}
