import { Command, CommanderError } from 'commander';
import { loadConfig } from '../config/loadConfig.ts';
import { isProbewatchError } from '../errors.ts';
import { createLogger } from '../observability/logger.ts';
import { integer, nonNegativeNumber, positiveInteger } from './argParsers.ts';
import { packageVersion } from './packageVersion.ts';

/**
 * The command line: `run`, `replay`, `train`, `check-config`, `demo`. Returns the exit
 * code; config and usage errors print one clear message, never a stack.
 */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command()
    .name('probewatch')
    .description('Detects model-extraction attacks on ML inference APIs and drives graduated responses')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('run')
    .description('consume events from Kafka, publish risk scores and decisions to Kafka and Redis, serve /metrics and /healthz')
    .option('-c, --config <file>', 'YAML config file (environment overrides apply on top)')
    .action(async (opts: { config?: string }) => {
      const config = loadConfig(opts.config, process.env);
      const { runCommand } = await import('./run.ts');
      code = await runCommand({ config, env: process.env, logger: createLogger(config.logLevel), configFile: opts.config });
    });

  program
    .command('replay')
    .description('run the detectors over a recorded stream (NDJSON, - for stdin, or Avro container) and print RiskScores as NDJSON')
    .argument('<file>', 'recorded events, or - for stdin')
    .option('-c, --config <file>', 'YAML config file to evaluate')
    .option('--batch <n>', 'events per batch (speed only)', positiveInteger, 2048)
    .action(async (file: string, opts: { config?: string; batch: number }) => {
      const config = loadConfig(opts.config, process.env);
      const { replay } = await import('./replay.ts');
      const summary = await replay(file, config, { batchSize: opts.batch, out: process.stdout, err: process.stderr });
      process.stderr.write(
        `replayed ${summary.events} events (${summary.skipped} skipped) over ${summary.keys} keys in ${summary.seconds.toFixed(2)} s\n`,
      );
    });

  program
    .command('train')
    .description('fit logistic fusion weights with TensorFlow.js on labelled recorded events, print a held-out check, write the weights into the config')
    .argument('<events>', 'recorded events (NDJSON, - for stdin, or Avro container)')
    .argument('<labels>', 'key → label file: CSV api_key,label or JSON; labels attack/benign or 1/0')
    .option('-c, --config <file>', 'YAML config to start from; updated in place unless --out')
    .option('--out <file>', 'write the config with the fitted weights here instead')
    .option('--holdout <share>', 'share of keys held out for the check (split by key)', parseFloat, 0.3)
    .option('--seed <n>', 'seed of the key split', (v) => parseInt(v, 10), 1)
    .option('--l2 <lambda>', 'L2 penalty on the fitted weights', parseFloat, 1e-4)
    .option('--force', 'write the weights even when they do worse on the held-out keys than the live config')
    .action(async (events: string, labels: string, opts: { config?: string; out?: string; holdout: number; seed: number; l2: number; force?: boolean }) => {
      const { train } = await import('./train.ts');
      await train(events, labels, { ...opts, env: process.env, stdout: process.stdout, stderr: process.stderr });
    });

  program
    .command('check-config')
    .description('validate a config file (and the environment overrides) and print the effective config, secrets masked')
    .argument('<file>', 'YAML config file')
    .option('-q, --quiet', 'print nothing on success')
    .action(async (file: string, opts: { quiet?: boolean }) => {
      const config = loadConfig(file, process.env);
      const { detectionConfigHash } = await import('../config/loadConfig.ts');
      if (!opts.quiet) {
        process.stdout.write(`${file}: valid (detection config sha256 ${detectionConfigHash(config)})\n`);
        const { redactConfig } = await import('../config/redactConfig.ts');
        process.stdout.write(JSON.stringify(redactConfig(config), null, 2) + '\n');
      }
    });

  program
    .command('demo')
    .description('run the real pipeline on in-memory transport with simulated benign users and attackers')
    .option('-c, --config <file>', 'YAML config file')
    .option('--minutes <n>', 'simulated minutes of traffic', positiveInteger, 30)
    .option('--speed <x>', 'simulated seconds per real second (0 = as fast as possible)', nonNegativeNumber, 600)
    .option('--seed <n>', 'random seed', integer, 7)
    .option('--record <file>', 'also write the events the gateways sent as NDJSON (for replay, explain, tune)')
    .action(async (opts: { config?: string; minutes: number; speed: number; seed: number; record?: string }) => {
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
