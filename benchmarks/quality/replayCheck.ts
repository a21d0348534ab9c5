import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { replay } from '../../src/cli/replay.ts';
import type { Config } from '../../src/config/configSchema.ts';
import type { RiskScore } from '../../src/contract.ts';

export interface ReplayCheck {
  events: number;
  keys: number;
  seconds: number;
  /** Keys whose final RiskScore from `probewatch replay` differs from the simulation's (at most 5 described). */
  mismatches: string[];
  mismatched: number;
}

/** A stream that keeps what is written to it, chunk by chunk. */
function collect(into: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      into.push(chunk.toString('utf8'));
      done();
    },
  });
}

/** A RiskScore's comparable content: everything but the time it was printed. */
function comparable(s: Pick<RiskScore, 'events_seen' | 'risk' | 'level' | 'detectors'>): string {
  return JSON.stringify([s.events_seen, s.risk, s.level, Object.entries(s.detectors).sort(([a], [b]) => (a < b ? -1 : 1))]);
}

/**
 * Replays a simulated world's events (NDJSON lines) through `probewatch
 * replay` itself — the CLI's code path, its own batching (2,048 events, not
 * the simulation's 5-second polls) — and compares every key's final
 * RiskScore with the one the simulation's pipeline ended on. Equal finals
 * show that the benchmark's numbers are what `replay` (and so `run`) gives
 * on the same events.
 */
export async function replayCheck(lines: readonly string[], config: Readonly<Config>, expected: readonly RiskScore[]): Promise<ReplayCheck> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-quality-'));
  const path = join(dir, 'events.ndjson');
  const out: string[] = [];
  const errors: string[] = [];
  try {
    writeFileSync(path, lines.join('\n') + '\n');
    const summary = await replay(path, config, { out: collect(out), err: collect(errors) });
    if (summary.skipped > 0) throw new Error(`replay skipped ${summary.skipped} simulated events: ${errors[0] ?? ''}`);
    const finals = new Map<string, RiskScore>();
    for (const line of out.join('').split('\n')) {
      if (!line) continue;
      const s = JSON.parse(line) as RiskScore;
      if (s.final) finals.set(s.api_key, s);
    }
    const mismatches: string[] = [];
    let mismatched = 0;
    for (const want of expected) {
      const got = finals.get(want.api_key);
      if (got && comparable(got) === comparable(want)) continue;
      mismatched++;
      if (mismatches.length < 5) mismatches.push(`${want.api_key}: simulation ${comparable(want)}, replay ${got ? comparable(got) : 'none'}`);
    }
    if (finals.size !== expected.length) mismatched += Math.abs(finals.size - expected.length);
    return { events: summary.events, keys: finals.size, seconds: summary.seconds, mismatches, mismatched };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
