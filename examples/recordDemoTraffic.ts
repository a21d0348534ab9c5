/**
 * Records the demo's simulated traffic (12 people, a batch scorer, a grid
 * sweeper and a random-query attacker, through the real gateway event
 * builder) as NDJSON events plus a labels CSV (and optionally a populations
 * CSV), for `replay`, `explain`, `tune` and `train`:
 *
 *   npx tsx examples/recordDemoTraffic.ts demo.ndjson demo-labels.csv [--populations demo-populations.csv] [--minutes 20] [--seed 7]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatEventLine } from '../src/codec/ndjson.ts';
import { SimulatedTraffic } from '../src/sim/SimulatedTraffic.ts';

const USAGE = 'usage: npx tsx examples/recordDemoTraffic.ts EVENTS.ndjson LABELS.csv [--populations FILE.csv] [--minutes N > 0] [--seed integer]\n';
let args;
try {
  args = parseArgs({ allowPositionals: true, options: { populations: { type: 'string' }, minutes: { type: 'string', default: '20' }, seed: { type: 'string', default: '7' } } });
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
const [events, labels] = args.positionals;
const minutes = Number(args.values.minutes);
const seed = Number(args.values.seed);
if (!events || !labels || args.positionals.length > 2 || !(minutes > 0) || !Number.isInteger(seed)) {
  process.stderr.write(USAGE);
  process.exit(2);
}
const start = Date.UTC(2026, 0, 5, 9, 0, 0);
const traffic = new SimulatedTraffic(start, seed);
const calls = traffic.until(start + minutes * 60_000);
writeFileSync(events, calls.map(formatEventLine).join('\n') + '\n');
const roles = [...traffic.roles()];
writeFileSync(labels, ['api_key,label', ...roles.map(([key, role]) => `${key},${role === 'attacker' ? 'attack' : 'benign'}`)].join('\n') + '\n');
if (args.values.populations) {
  const population = (key: string, role: string) => (role === 'benign' ? 'interactive users' : role === 'heavy' ? 'batch scorers' : `${key.replace(/^attacker-/, '')} attacker`);
  writeFileSync(args.values.populations, ['api_key,population', ...roles.map(([key, role]) => `${key},${population(key, role)}`)].join('\n') + '\n');
}
process.stdout.write(`${events}: ${calls.length} calls from ${roles.length} keys over ${minutes} simulated minutes; ${labels}: their labels\n`);
