import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatEventLine } from '../../src/codec/ndjson.ts';
import type { InferenceEvent } from '../../src/contract.ts';
import { SimulatedTraffic } from '../../src/sim/SimulatedTraffic.ts';

/** A recorded stream of the demo's traffic, in memory and as an NDJSON file. */
export interface SimulatedStream {
  file: string;
  events: InferenceEvent[];
  keys: number;
  users: number;
  minutes: number;
}

/** Event time of the stream's first event. */
export const STREAM_START = Date.UTC(2026, 0, 5, 9);

/**
 * The demo's simulated deployment (benign users, a heavy scorer, two
 * attackers) for `minutes` of event time, open loop (no responses enforced),
 * written to a fresh temporary NDJSON file as `probewatch demo --record` writes it.
 */
export function writeSimulatedStream(users: number, minutes: number, seed = 1): SimulatedStream {
  const events = new SimulatedTraffic(STREAM_START, seed, users).until(STREAM_START + minutes * 60_000);
  const file = join(mkdtempSync(join(tmpdir(), 'pw-bench-')), 'events.ndjson');
  writeFileSync(file, events.map(formatEventLine).join('\n') + '\n');
  return { file, events, keys: new Set(events.map((e) => e.api_key)).size, users, minutes };
}
