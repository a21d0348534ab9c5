import { Command, CommanderError } from 'commander';
import { loadConfig } from '../config/loadConfig.ts';
import { isProbewatchError } from '../errors.ts';
import { createLogger } from '../observability/logger.ts';
import { integer, nonNegativeNumber, positiveInteger, positiveIntegerUpTo } from './argParsers.ts';
import { packageVersion } from './packageVersion.ts';
import { MAX_WORKERS } from '../parallel/offloadPlan.ts';

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
    .option('--batch <n>', 'events per batch (speed; scores and levels do not depend on it, only the group evidence of aggregates quotes the batch-end state)', positiveInteger, 2048)
    .option('--workers <n>', 'worker threads for the per-key detectors (speed only: the output is the same)', positiveIntegerUpTo(MAX_WORKERS))
    .action(async (file: string, opts: { config?: string; batch: number; workers?: number }) => {
      const config = loadConfig(opts.config, process.env);
      const { replay } = await import('./replay.ts');
      const summary = await replay(file, config, { batchSize: opts.batch, workers: opts.workers, out: process.stdout, err: process.stderr });
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

  program
    .command('explain')
    .description("one key's timeline: level changes with evidence, risk and detector scores over its calls, decisions with TTLs and reasons")
    .argument('<key>', 'the API key id')
    .argument('[file]', 'recorded events (as for replay: NDJSON, - for stdin, or Avro container)')
    .option('-c, --config <file>', 'YAML config file (as for replay, or as for run with --live)')
    .option('--live', 'from the risk and decisions topics and Redis of a running deployment')
    .option('--json', 'print the timeline as JSON')
    .option('--html <file>', 'write a self-contained HTML page with a plot')
    .action(async (key: string, file: string | undefined, opts: { config?: string; live?: boolean; json?: boolean; html?: string }) => {
      const config = loadConfig(opts.config, process.env);
      const { explain } = await import('./explain.ts');
      code = await explain(key, { ...opts, file, config, env: process.env, logger: createLogger('warn'), out: process.stdout, err: process.stderr });
    });

  program
    .command('tune')
    .description('what would this config have done: replay recorded traffic under the live config and a candidate, compare levels per label, score distributions with thresholds')
    .argument('<events>', 'recorded events (NDJSON or Avro container; a file: it is replayed twice)')
    .requiredOption('--candidate <file>', 'the candidate YAML config')
    .option('-c, --config <file>', 'the live YAML config (default: embedded defaults)')
    .option('--labels <file>', 'key → label file (as for train): CSV api_key,label or JSON; attack/benign or 1/0')
    .option('--populations <file>', 'key → population file: CSV api_key,population or JSON; levels are counted per population')
    .option('--html <file>', 'also write a self-contained HTML report with SVG plots')
    .option('--json', 'print the report as JSON instead of tables')
    .action(async (events: string, opts: { candidate: string; config?: string; labels?: string; populations?: string; html?: string; json?: boolean }) => {
      const live = loadConfig(opts.config, process.env);
      const candidate = loadConfig(opts.candidate, process.env);
      const { tune } = await import('./tune.ts');
      code = await tune(events, { ...opts, live, liveFile: opts.config ?? 'embedded defaults', candidate, candidateFile: opts.candidate, out: process.stdout, err: process.stderr });
    });

  const decisions = program
    .command('decisions')
    .description("what gateways enforce now, and analysts' decisions by hand (Redis decision store, pub/sub and the decisions topic, as the pipeline delivers)");
  const decisionsContext = async (opts: { config?: string }) => {
    const config = loadConfig(opts.config, process.env);
    return { config, env: process.env, logger: createLogger('warn'), out: process.stdout };
  };
  decisions
    .command('list')
    .description('the decisions in force: the ladder\'s per key and the manual ones, with the keys at each level')
    .option('-c, --config <file>', 'YAML config file (Redis url and key prefix)')
    .option('--json', 'print the decisions as a JSON array')
    .action(async (opts: { config?: string; json?: boolean }) => {
      const { listDecisions } = await import('./decisions.ts');
      code = await listDecisions(await decisionsContext(opts), opts);
    });
  decisions
    .command('add')
    .description('a manual decision for a key, an IP prefix or a tenant; the ladder does not override it while it lasts (--level allow: a run-time allowlist entry)')
    .option('-c, --config <file>', 'YAML config file (Redis and Kafka settings)')
    .option('--key <id>', 'an API key id')
    .option('--prefix <cidr>', 'an IP network, e.g. 192.0.2.0/24')
    .option('--tenant <name>', 'a tenant')
    .requiredOption('--level <level>', 'block, throttle or allow')
    .requiredOption('--ttl <duration>', 'how long it holds, e.g. 30m, 2h, 7d')
    .requiredOption('--reason <text>', 'who decided and why')
    .action(async (opts: { config?: string; key?: string; prefix?: string; tenant?: string; level: string; ttl: string; reason: string }) => {
      const { addDecision } = await import('./decisions.ts');
      code = await addDecision(await decisionsContext(opts), opts);
    });
  decisions
    .command('delete')
    .description('end a manual decision now (gateways fall back to the ladder\'s decision, if any)')
    .option('-c, --config <file>', 'YAML config file (Redis and Kafka settings)')
    .option('--key <id>', 'an API key id')
    .option('--prefix <cidr>', 'an IP network')
    .option('--tenant <name>', 'a tenant')
    .option('--reason <text>', 'why it ends (announced with the removal)')
    .action(async (opts: { config?: string; key?: string; prefix?: string; tenant?: string; reason?: string }) => {
      const { deleteDecision } = await import('./decisions.ts');
      code = await deleteDecision(await decisionsContext(opts), opts);
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
