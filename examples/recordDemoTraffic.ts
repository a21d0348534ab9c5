/**
 * Records the demo's simulated traffic (12 people, a batch scorer, a grid
 * sweeper and a random-query attacker, through the real gateway event
 * builder) as NDJSON events plus a labels CSV, for `replay`, `explain`,
 * `tune` and `train`:
 *
 *   npx tsx examples/recordDemoTraffic.ts demo.ndjson demo-labels.csv [minutes] [seed]
 */
import { writeFileSync } from 'node:fs';
import { formatEventLine } from '../src/codec/ndjson.ts';
import { SimulatedTraffic } from '../src/sim/SimulatedTraffic.ts';

const [events, labels, minutes = '20', seed = '7'] = process.argv.slice(2);
if (!events || !labels || !(Number(minutes) > 0) || !Number.isInteger(Number(seed))) {
  process.stderr.write('usage: npx tsx examples/recordDemoTraffic.ts EVENTS.ndjson LABELS.csv [minutes > 0] [integer seed]\n');
  process.exit(2);
}
const start = Date.UTC(2026, 0, 5, 9, 0, 0);
const traffic = new SimulatedTraffic(start, Number(seed));
const calls = traffic.until(start + Number(minutes) * 60_000);
writeFileSync(events, calls.map(formatEventLine).join('\n') + '\n');
const roles = [...traffic.roles()];
writeFileSync(labels, ['api_key,label', ...roles.map(([key, role]) => `${key},${role === 'attacker' ? 'attack' : 'benign'}`)].join('\n') + '\n');
process.stdout.write(`${events}: ${calls.length} calls from ${roles.length} keys over ${minutes} simulated minutes; ${labels}: their labels\n`);
