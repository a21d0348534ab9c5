import { describe, expect, it } from 'vitest';
import { manualDecision, subjectOf } from '../../src/cli/decisions.ts';
import { parseDuration } from '../../src/cli/parseDuration.ts';

describe('decisions add arguments', () => {
  it('reads durations and rejects what is not one, naming the option', () => {
    expect(parseDuration('90s', '--ttl')).toBe(90_000);
    expect(parseDuration('1h30m', '--ttl')).toBe(5_400_000);
    expect(parseDuration('7d', '--ttl')).toBe(604_800_000);
    expect(parseDuration('2500', '--ttl')).toBe(2_500);
    for (const bad of ['soon', '1h 30m', '-5m', '0s', 'h', '']) expect(() => parseDuration(bad, '--ttl'), bad).toThrow(/--ttl/);
  });

  it('builds a manual decision for one subject, normalising a prefix', () => {
    const now = 1_767_600_000_000;
    expect(manualDecision({ prefix: '192.0.2.9/24', level: 'throttle', ttl: '2h', reason: ' SOC-7 ' }, now)).toEqual({
      api_key: '192.0.2.0/24',
      scope: 'prefix',
      level: 'throttle',
      reason: 'SOC-7',
      expires_at: now + 7_200_000,
      shadow: false,
      manual: true,
    });
    expect(manualDecision({ key: 'k', level: 'allow', ttl: '1m', reason: 'r' }, now)).not.toHaveProperty('scope');
    expect(() => manualDecision({ key: 'k', level: 'deceive', ttl: '1m', reason: 'r' }, now)).toThrow(/--level: expected one of allow, throttle, block, got "deceive"/);
    expect(() => manualDecision({ key: 'k', level: 'block', ttl: '1m', reason: '  ' }, now)).toThrow(/--reason/);
    expect(() => subjectOf({})).toThrow(/exactly one of --key, --prefix or --tenant \(got none\)/);
    expect(() => subjectOf({ tenant: '' })).toThrow(/--tenant: must not be empty/);
    expect(() => subjectOf({ prefix: '300.1.1.1/8' })).toThrow(/--prefix: expected an IP network/);
  });
});
