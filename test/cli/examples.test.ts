import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/loadConfig.ts';

describe('examples/probewatch.yaml', () => {
  it('is a valid config that matches the embedded defaults it documents', () => {
    const example = loadConfig(new URL('../../examples/probewatch.yaml', import.meta.url).pathname);
    const defaults = loadConfig(undefined);
    expect(example.policy).toEqual(defaults.policy);
    expect(example.kafka).toEqual(defaults.kafka);
    expect(example.reload).toEqual(defaults.reload);
    expect(example.alerts).toEqual(defaults.alerts);
  });
});
