import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { replay } from '../../src/cli/replay.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import type { RiskScore } from '../../src/contract.ts';
import type { KeyTimeline } from '../../src/report/KeyTimeline.ts';
import { recordedTimeline } from '../../src/report/recordedTimeline.ts';
import { timelineText } from '../../src/report/timelineText.ts';
import { simulatedStream } from '../helpers/simulatedStream.ts';

const exec = promisify(execFile);
const bin = new URL('../../bin/probewatch', import.meta.url).pathname;
const config = parseConfig({});

function collector(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

describe('probewatch explain on a recorded stream', () => {
  // 12 simulated minutes: the grid attacker jumps to deceive, the random one climbs to observe then deceive.
  const sim = simulatedStream(12);
  let replayed: RiskScore[];
  let random: KeyTimeline;

  beforeAll(async () => {
    const out = collector();
    await replay(sim.events, config, { out: out.stream, err: collector().stream });
    replayed = out.text().trim().split('\n').map((l) => JSON.parse(l) as RiskScore);
    random = await recordedTimeline(sim.events, config, 'attacker-random', collector().stream);
  }, 120_000);

  it("tells the same story as replay: every call scored, the same level changes, the same final score", () => {
    const mine = replayed.filter((s) => s.api_key === 'attacker-random');
    const final = mine.find((s) => s.final)!;
    const changes = mine.filter((s) => !s.final);
    expect(changes.map((s) => s.level)).toEqual(['observe', 'deceive']);
    expect(random.calls).toHaveLength(sim.counts.get('attacker-random')!);
    expect(random.calls.map((c) => c.events_seen)).toEqual(random.calls.map((_, i) => i + 1));
    expect(random.changes.map((c) => [c.from, c.to, c.events_seen, c.risk])).toEqual([
      ['allow', 'observe', changes[0].events_seen, changes[0].risk],
      ['observe', 'deceive', changes[1].events_seen, changes[1].risk],
    ]);
    expect(random.changes[1].evidence).toEqual(changes[1].evidence);
    expect(random.latest).toMatchObject({ level: final.level, risk: final.risk, events_seen: final.events_seen, detectors: final.detectors });
    // Every detector the pipeline ran has a score at every call.
    expect(random.detectors).toEqual(Object.keys(final.detectors));
    for (const c of random.calls) expect(Object.keys(c.detectors)).toEqual(random.detectors);
  });

  it('lists the decisions the ladder issued, when, with their TTLs and reasons', () => {
    expect(random.decisions.map((d) => [d.level, d.by, d.issued_at, d.ttl_ms])).toEqual([
      ['observe', 'ladder', random.changes[0].ts, config.policy.ttlMs.observe],
      ['deceive', 'ladder', random.changes[1].ts, config.policy.ttlMs.deceive],
    ]);
    expect(random.decisions[1].reason).toMatch(/^risk 1: /);
    const text = timelineText(random);
    expect(text).toMatch(/call +\d+ +allow → observe +risk 0\.3\d/);
    expect(text).toMatch(/observe → deceive/);
    expect(text).toMatch(/deceive +ladder +key attacker-random +24h00m/);
  });

  it('answers on the command line as text, JSON, and with clear errors', async () => {
    const json = JSON.parse((await exec(bin, ['explain', 'attacker-grid', sim.events, '--json'])).stdout) as KeyTimeline;
    expect(json.api_key).toBe('attacker-grid');
    expect(json.calls).toHaveLength(sim.counts.get('attacker-grid')!);
    expect(json.latest!.level).toBe(replayed.find((s) => s.api_key === 'attacker-grid' && s.final)!.level);
    const unknown = await exec(bin, ['explain', 'nobody', sim.events]).catch((e) => e);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/key "nobody" has no events in/);
    const neither = await exec(bin, ['explain', 'attacker-grid']).catch((e) => e);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/give a recorded stream FILE, or --live/);
  }, 60_000);
});
