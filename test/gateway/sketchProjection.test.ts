// The example gateway's choice of sketch projection (examples/gateway/sketchProjection.ts) and its config.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../examples/gateway/gatewayConfig.ts';
import { sketchProjection } from '../../examples/gateway/sketchProjection.ts';
import { loadHmacKey } from '../../src/gateway/hmacKey.ts';
import { PUBLIC_SKETCH_SEED, RandomProjection } from '../../src/gateway/RandomProjection.ts';

const keyBytes = randomBytes(32);
const hmacKey = loadHmacKey({ PROBEWATCH_HMAC_KEY: `hex:${keyBytes.toString('hex')}` });
const weatherDay = [3.2, 14.5, 6.1, 4.7, 200];

function recordingLogger() {
  const lines: { level: 'info' | 'warn'; fields: object; message: string }[] = [];
  return {
    lines,
    info: (fields: object, message: string) => lines.push({ level: 'info', fields, message }),
    warn: (fields: object, message: string) => lines.push({ level: 'warn', fields, message }),
  };
}

function expectNoKey(lines: readonly object[]): void {
  const text = JSON.stringify(lines);
  for (const form of [keyBytes.toString('hex'), keyBytes.toString('base64'), keyBytes.toString('latin1')]) expect(text).not.toContain(form);
}

const dir = mkdtempSync(join(tmpdir(), 'pw-sketch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configWith(sketch: string | undefined) {
  const file = join(dir, `gateway-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, `keys: [{ id: alice }]\n${sketch === undefined ? '' : `sketch: ${sketch}\n`}`);
  return loadGatewayConfig(file, {});
}

describe('example gateway sketch projection', () => {
  it('is keyed by the HMAC key by default: gateways of one deployment project alike, and nothing is invertible from the seed', () => {
    const { sketch } = configWith(undefined);
    expect(sketch).toEqual({ width: 16 });
    const logger = recordingLogger();
    const projection = sketchProjection(sketch, 5, hmacKey, logger);
    expect(projection.seed).toBeUndefined();
    expect(projection.project(weatherDay)).toEqual(RandomProjection.keyed(5, 16, keyBytes).project(weatherDay));
    expect(projection.project(weatherDay)).not.toEqual(new RandomProjection(5, 16).project(weatherDay));
    expect(logger.lines).toEqual([{ level: 'info', fields: { inputDim: 5, width: 16, projection: 'keyed' }, message: expect.stringContaining('keyed') }]);
    expectNoKey(logger.lines);
  });

  it('uses a numeric sketch.seed only when set, and warns that the sketches are invertible', () => {
    const { sketch } = configWith(`{ width: 16, seed: ${PUBLIC_SKETCH_SEED} }`);
    const logger = recordingLogger();
    const projection = sketchProjection(sketch, 5, hmacKey, logger);
    expect(projection.project(weatherDay)).toEqual(new RandomProjection(5, 16).project(weatherDay));
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatchObject({ level: 'warn', fields: { inputDim: 5, width: 16, projection: 'seeded', invertible: true } });
    expect(logger.lines[0].message).toMatch(/inverts every sketch to the raw input/);
    expectNoKey(logger.lines);
  });

  it('still warns with a seed when the features outnumber the width, without claiming inversion', () => {
    const logger = recordingLogger();
    sketchProjection({ width: 4, seed: 7 }, 6, hmacKey, logger);
    expect(logger.lines[0]).toMatchObject({ level: 'warn', fields: { invertible: false } });
    expect(logger.lines[0].message).not.toMatch(/inverts/);
  });

  it('refuses a seed that is not a non-negative integer, naming the key', () => {
    expect(() => configWith('{ seed: -1 }')).toThrow(/sketch\.seed/);
    expect(() => configWith('{ seed: "public" }')).toThrow(/sketch\.seed/);
  });
});
