/**
 * `probewatch explain KEY --live` against a running `probewatch run` on the
 * real broker and Redis: the timeline read from the risk and decisions
 * topics and Redis tells the same level changes as a replay of the same
 * events, and shows the ladder's and the analyst's decisions in force.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { formatEventLine } from '../../src/codec/ndjson.ts';
import { parseConfig } from '../../src/config/loadConfig.ts';
import type { KeyTimeline } from '../../src/report/KeyTimeline.ts';
import { recordedTimeline } from '../../src/report/recordedTimeline.ts';
import { chromiumPath, openPage } from '../support/headlessChromium.ts';
import { REPO_ROOT, eventCodec, loadSnapshots, runConfig, runSetup, spawnProbewatch, testEvent, testKafka, testProducer, testRedis, waitFor } from './helpers.ts';

const exec = promisify(execFile);
const env = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PROBEWATCH_')));
const probewatch = (...args: string[]) => exec(join(REPO_ROOT, 'bin/probewatch'), args, { cwd: REPO_ROOT, env: env() });

describe('probewatch explain --live', () => {
  it("reads one key's story from the topics and Redis of a running probewatch", async () => {
    const setup = await runSetup('explain-live');
    const doc = runConfig(setup);
    const dir = mkdtempSync(join(tmpdir(), 'pw-explain-live-'));
    const configFile = join(dir, 'probewatch.yaml');
    writeFileSync(configFile, toYaml(doc));
    const redis = testRedis(setup.keyPrefix);
    const run = spawnProbewatch(doc);
    await run.joined();

    const start = Date.now() - 60_000;
    const events = [
      ...Array.from({ length: 150 }, (_, i) => testEvent('prober', start + i * 300, i)),
      ...Array.from({ length: 20 }, (_, i) => testEvent('bystander', start + i * 3_000, i)),
    ];
    const producer = await testProducer(await testKafka());
    await producer.send({ topic: setup.topics.events, messages: events.map((e) => ({ key: e.api_key, value: eventCodec.encode(e) })) });
    await waitFor(async () => (await loadSnapshots(redis, setup.keyPrefix, ['prober'])).get('prober')?.eventsSeen === 150, () => `prober processed\n${run.tail()}`);
    await probewatch('decisions', 'add', '--key', 'prober', '--level', 'block', '--ttl', '2h', '--reason', 'SOC-9 confirmed', '-c', configFile);

    const { stdout } = await probewatch('explain', 'prober', '--live', '--json', '-c', configFile);
    const live = JSON.parse(stdout) as KeyTimeline;

    // The same events replayed tell the same level changes.
    const file = join(dir, 'events.ndjson');
    writeFileSync(file, events.map(formatEventLine).join('\n') + '\n');
    const recorded = await recordedTimeline(file, parseConfig({}), 'prober', new Writable({ write: (_c, _e, done) => done() }));
    expect(recorded.changes.length).toBeGreaterThan(0);
    expect(live.changes.map((c) => [c.from, c.to, c.events_seen, c.risk])).toEqual(recorded.changes.map((c) => [c.from, c.to, c.events_seen, c.risk]));
    expect(live.latest?.events_seen).toBe(150);
    expect(live.calls.map((c) => c.events_seen)).toEqual([...live.calls.map((c) => c.events_seen)].sort((a, b) => a - b));

    const ladder = live.decisions.filter((d) => d.by === 'ladder');
    expect(ladder.map((d) => d.level)).toEqual(recorded.decisions.map((d) => d.level));
    const last = ladder.at(-1)!;
    expect(last).toMatchObject({ in_force: true, subject: 'key prober' });
    expect(last.issued_at).toBeGreaterThan(0);
    expect(live.decisions.find((d) => d.by === 'manual')).toMatchObject({ level: 'block', reason: 'SOC-9 confirmed', in_force: true, subject: 'key prober' });

    const text = (await probewatch('explain', 'prober', '--live', '-c', configFile)).stdout;
    expect(text).toMatch(new RegExp(`${recorded.changes[0].from} → ${recorded.changes[0].to}`));
    expect(text).toMatch(/block +manual +key prober .*in force/);

    const page = join(dir, 'prober.html');
    await probewatch('explain', 'prober', '--live', '--html', page, '-c', configFile);
    if (chromiumPath() || process.env.CI) {
      const report = await openPage(pathToFileURL(page).href, ['document.querySelectorAll("svg").length']);
      expect(report.errors).toEqual([]);
      expect(report.values).toEqual([1]);
    }

    const missing = await probewatch('explain', 'nobody-here', '--live', '-c', configFile).catch((e) => e);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/key "nobody-here": no score, decision or snapshot found/);
    await run.stop();
  });
});
