import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatEventLine } from '../../src/codec/ndjson.ts';
import { SimulatedTraffic } from '../../src/sim/SimulatedTraffic.ts';

/** Simulated traffic (the demo's benign users, batch scorer and two attackers) recorded as NDJSON, with a labels CSV. */
export function simulatedStream(minutes: number, seed = 7): { dir: string; events: string; labels: string; counts: Map<string, number>; start: number } {
  const start = Date.UTC(2026, 0, 5, 9, 0, 0);
  const traffic = new SimulatedTraffic(start, seed);
  const events = traffic.until(start + minutes * 60_000);
  const dir = mkdtempSync(join(tmpdir(), 'pw-sim-'));
  const eventsPath = join(dir, 'events.ndjson');
  writeFileSync(eventsPath, events.map(formatEventLine).join('\n') + '\n');
  const labelsPath = join(dir, 'labels.csv');
  writeFileSync(labelsPath, ['api_key,label', ...[...traffic.roles()].map(([k, role]) => `${k},${role === 'attacker' ? 'attack' : 'benign'}`)].join('\n') + '\n');
  const counts = new Map<string, number>();
  for (const e of events) counts.set(e.api_key, (counts.get(e.api_key) ?? 0) + 1);
  return { dir, events: eventsPath, labels: labelsPath, counts, start };
}
