import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { formatEventLine } from '../../src/codec/ndjson.ts';
import { schemaType } from '../../src/codec/schemas.ts';
import { burst } from '../helpers/events.ts';

const exec = promisify(execFile);
const bin = new URL('../../bin/probewatch', import.meta.url).pathname;

function tmp(name: string, content: string | Buffer): string {
  const path = join(mkdtempSync(join(tmpdir(), 'pw-replay-')), name);
  writeFileSync(path, content);
  return path;
}

const stream = [...burst('attacker', 150, 1_767_600_000_000, 300), ...burst('user', 20, 1_767_600_000_000, 5000)].sort((a, b) => a.ts - b.ts);

describe('probewatch replay', () => {
  it('prints level changes then one final line per key, and reports bad lines with their numbers', async () => {
    const lines = stream.map(formatEventLine);
    lines.splice(10, 0, '{"broken": ');
    lines.splice(20, 0, JSON.stringify({ event_id: 'x', ts: 1, api_key: 'k', model_id: 'm', input_hash: 'zz' }));
    const { stdout, stderr } = await exec(bin, ['replay', tmp('events.ndjson', lines.join('\n') + '\n')]);
    const out = stdout.trim().split('\n').map((l) => JSON.parse(l));
    const changes = out.filter((r) => !r.final);
    const finals = out.filter((r) => r.final);
    expect(changes.map((c) => `${c.api_key}:${c.level}`)).toEqual(['attacker:observe', 'attacker:throttle']);
    expect(finals.map((f) => [f.api_key, f.events_seen])).toEqual([
      ['attacker', 150],
      ['user', 20],
    ]);
    for (const r of out) expect(Object.keys(r).slice(0, 7)).toEqual(['api_key', 'ts', 'events_seen', 'risk', 'level', 'detectors', 'evidence']);
    expect(stderr).toMatch(/:11: skipped \(PW_DECODE_JSON\)/);
    expect(stderr).toMatch(/:21: skipped \(PW_INVALID_EVENT bad_hash\): input_hash/);
    expect(stderr).toMatch(/replayed 170 events \(2 skipped\)/);
  }, 60_000);

  it('reads an Avro object container file the same as NDJSON', async () => {
    const ndjson = tmp('events.ndjson', stream.map(formatEventLine).join('\n'));
    const avroPath = join(mkdtempSync(join(tmpdir(), 'pw-replay-')), 'events.avro');
    await new Promise<void>((resolve, reject) => {
      const encoder = avro.createFileEncoder(avroPath, schemaType('InferenceEvent'));
      encoder.on('error', reject);
      encoder.on('finish', () => resolve());
      for (const e of stream) encoder.write(e);
      encoder.end();
    });
    const [a, b] = await Promise.all([exec(bin, ['replay', ndjson]), exec(bin, ['replay', avroPath])]);
    expect(b.stdout).toBe(a.stdout);
  }, 60_000);

  it('exits 2 with a clear message for a bad config', async () => {
    const config = tmp('bad.yaml', 'policy:\n  hysteresis: lots\n');
    const err = await exec(bin, ['replay', '-c', config, '/dev/null']).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/policy\.hysteresis: Invalid input: expected number/);
  }, 60_000);
});
